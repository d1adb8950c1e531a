%% selective_receive: a process keeps 10,000 unmatched messages queued, then
%% 10,000 times sends itself a message tagged 42 and receives it by tag; the
%% receive has to pass every unmatched message first. The tag is an integer
%% (as a lunatic tag is), so BEAM's make_ref receive optimisation, which
%% would skip the old messages, does not apply.
%% selective_receive_fresh_tag: the same with a new tag every round (for
%% BEAM the same work; the C twin reports both, see selective_receive.c).
-module(selective_receive).
-export([main/0]).

-define(TAG, 42).
-define(FRESH_TAG_BASE, 1000).

main() ->
    Backlog = bench_util:scaled(10000),
    Rounds = bench_util:scaled(10000),
    Self = self(),
    spawn(fun() -> Self ! {elapsed, run(Backlog, Rounds)} end),
    {SameTag, FreshTag} = receive {elapsed, Value} -> Value end,
    bench_util:report("selective_receive_ns", SameTag / Rounds, "ns"),
    bench_util:report("selective_receive_fresh_tag_ns", FreshTag / Rounds, "ns").

run(Backlog, Rounds) ->
    [self() ! {other, Index} || Index <- lists:seq(1, Backlog)],
    Start = bench_util:now_ns(),
    same_tag(Rounds),
    Middle = bench_util:now_ns(),
    fresh_tag(Rounds),
    End = bench_util:now_ns(),
    {message_queue_len, Backlog} = process_info(self(), message_queue_len),
    {Middle - Start, End - Middle}.

same_tag(0) -> ok;
same_tag(Left) ->
    self() ! {?TAG, Left},
    receive {?TAG, Left} -> same_tag(Left - 1) end.

fresh_tag(0) -> ok;
fresh_tag(Left) ->
    Tag = ?FRESH_TAG_BASE + Left,
    self() ! {Tag, Left},
    receive {Tag, Left} -> fresh_tag(Left - 1) end.
