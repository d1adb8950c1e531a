%% idle_memory: 1,000,000 processes alive at once, each blocked in receive;
%% growth of the VM's resident memory divided by the count.
-module(idle_memory).
-export([main/0]).

main() ->
    Count = bench_util:scaled(1000000),
    Ready = atomics:new(1, []),
    garbage_collect(),
    Before = bench_util:rss_bytes(),
    spawn_all(Count, Ready),
    wait_ready(Ready, Count),
    After = bench_util:rss_bytes(),
    bench_util:report("idle_bytes_per_process", (After - Before) div Count, "bytes").

spawn_all(0, _) -> ok;
spawn_all(Left, Ready) ->
    spawn(fun() -> idle(Ready) end),
    spawn_all(Left - 1, Ready).

%% Counting through an atomic keeps the parent's heap and mailbox out of the
%% measure.
idle(Ready) ->
    atomics:add(Ready, 1, 1),
    receive stop -> ok end.

wait_ready(Ready, Count) ->
    case atomics:get(Ready, 1) of
        Count -> ok;
        _ -> receive after 1 -> ok end, wait_ready(Ready, Count)
    end.
