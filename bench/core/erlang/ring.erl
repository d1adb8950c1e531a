%% ring: 10,000 processes in a ring pass a token 1,000,000 hops; the clock
%% runs from the token's first send to its last hop.
-module(ring).
-export([main/0]).

main() ->
    Size = bench_util:scaled(10000),
    Hops = bench_util:scaled(1000000),
    Parent = self(),
    Members = [spawn(fun() -> member(Parent) end) || _ <- lists:seq(1, Size)],
    [First | _] = Members,
    link_ring(Members, First),
    Start = bench_util:now_ns(),
    First ! {token, Hops},
    Last = receive {done, Hop} -> Hop end,
    Elapsed = bench_util:now_ns() - Start,
    Last =:= 0 orelse bench_util:fail("ring: token ended at the wrong count"),
    [exit(Member, kill) || Member <- Members],
    bench_util:report("ring_hops_per_s", round(Hops * 1.0e9 / Elapsed), "per_s").

link_ring([Member], First) -> Member ! {next, First};
link_ring([Member | Rest = [Next | _]], First) ->
    Member ! {next, Next},
    link_ring(Rest, First).

member(Parent) ->
    receive {next, Next} -> pass(Parent, Next) end.

%% The token carries the hops still to go; whoever receives 0 reports.
pass(Parent, Next) ->
    receive
        {token, 0} -> Parent ! {done, 0}, pass(Parent, Next);
        {token, Left} -> Next ! {token, Left - 1}, pass(Parent, Next)
    end.
