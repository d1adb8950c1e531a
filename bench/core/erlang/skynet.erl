%% skynet: a tree of 1,000,000 leaf processes, fan-out 10; every node sums
%% its children's replies, every leaf replies its number; the root's sum
%% must be 0 + 1 + ... + 999,999.
-module(skynet).
-export([main/0]).

main() ->
    Leaves = bench_util:scaled(1000000),
    Self = self(),
    Start = bench_util:now_ns(),
    spawn(fun() -> node(Self, 0, Leaves) end),
    Sum = receive Value -> Value end,
    Elapsed = bench_util:now_ns() - Start,
    Expected = Leaves * (Leaves - 1) div 2,
    Sum =:= Expected orelse
        bench_util:fail(io_lib:format("skynet: sum ~w, expected ~w", [Sum, Expected])),
    bench_util:report("skynet_ms", Elapsed / 1.0e6, "ms").

%% A node covers the leaves First .. First + Count - 1.
node(Parent, First, 1) -> Parent ! First;
node(Parent, First, Count) ->
    Children = min(10, Count),
    spawn_children(First, Count, Children, 0),
    Parent ! collect(Children, 0).

spawn_children(_, _, Children, Children) -> ok;
spawn_children(First, Count, Children, Index) ->
    Self = self(),
    Low = First + Count * Index div Children,
    High = First + Count * (Index + 1) div Children,
    spawn(fun() -> node(Self, Low, High - Low) end),
    spawn_children(First, Count, Children, Index + 1).

collect(0, Sum) -> Sum;
collect(Left, Sum) ->
    receive Value -> collect(Left - 1, Sum + Value) end.
