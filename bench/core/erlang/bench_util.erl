%% Helpers shared by the Erlang side of the process-core benchmarks: reading
%% the size divisor, timing, resident memory of the VM, and the BENCH line.
-module(bench_util).
-export([divisor/0, scaled/1, now_ns/0, rss_bytes/0, report/3, fail/1]).

%% LUN_BENCH_DIVISOR scales every count down (smoke runs); 1 by default.
divisor() ->
    case os:getenv("LUN_BENCH_DIVISOR") of
        false -> 1;
        "" -> 1;
        Text -> max(1, list_to_integer(Text))
    end.

scaled(Count) -> max(1, Count div divisor()).

now_ns() -> erlang:monotonic_time(nanosecond).

%% VmRSS of this OS process, the same measure the C side takes.
rss_bytes() ->
    Path = "/proc/" ++ os:getpid() ++ "/status",
    {ok, Data} = file:read_file(Path),
    [Line] = [L || L <- binary:split(Data, <<"\n">>, [global]),
                   binary:part(L, 0, min(6, byte_size(L))) =:= <<"VmRSS:">>],
    [_, Kb | _] = binary:split(Line, [<<" ">>, <<"\t">>], [global, trim_all]),
    binary_to_integer(Kb) * 1024.

report(Name, Value, Unit) when is_float(Value) ->
    io:format("BENCH erlang.~s ~.1f ~s~n", [Name, Value, Unit]);
report(Name, Value, Unit) ->
    io:format("BENCH erlang.~s ~w ~s~n", [Name, Value, Unit]).

fail(Message) ->
    io:format(standard_error, "error: ~s~n", [Message]),
    erlang:halt(1).
