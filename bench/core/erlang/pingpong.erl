%% pingpong: 1,000,000 round trips between two processes; time per trip.
-module(pingpong).
-export([main/0]).

main() ->
    Trips = bench_util:scaled(1000000),
    Parent = self(),
    Pong = spawn(fun pong/0),
    Start = bench_util:now_ns(),
    spawn(fun() -> ping(Pong, Trips), Parent ! {done, Trips} end),
    receive {done, Trips} -> ok end,
    Elapsed = bench_util:now_ns() - Start,
    Pong ! stop,
    bench_util:report("pingpong_rtt_ns", Elapsed / Trips, "ns").

ping(_, 0) -> ok;
ping(Pong, Left) ->
    Pong ! {self(), Left},
    receive Left -> ping(Pong, Left - 1) end.

pong() ->
    receive
        {From, Number} -> From ! Number, pong();
        stop -> ok
    end.
