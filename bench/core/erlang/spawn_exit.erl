%% spawn_exit: 1,000,000 processes spawned that end at once; the clock stops
%% when the VM's process count is back where it started (polled once a
%% millisecond, as the C twin does).
-module(spawn_exit).
-export([main/0]).

main() ->
    Count = bench_util:scaled(1000000),
    Baseline = erlang:system_info(process_count),
    Start = bench_util:now_ns(),
    spawn_all(Count),
    wait_until_count(Baseline),
    Elapsed = bench_util:now_ns() - Start,
    bench_util:report("spawn_exit_per_s", round(Count * 1.0e9 / Elapsed), "per_s").

spawn_all(0) -> ok;
spawn_all(Left) ->
    spawn(fun() -> ok end),
    spawn_all(Left - 1).

wait_until_count(Baseline) ->
    case erlang:system_info(process_count) of
        Baseline -> ok;
        _ -> receive after 1 -> ok end, wait_until_count(Baseline)
    end.
