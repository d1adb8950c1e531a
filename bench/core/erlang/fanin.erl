%% fanin: 4 senders send 1,000,000 messages each to one receiver; messages
%% per second from the senders' start to the receiver's last message.
-module(fanin).
-export([main/0]).

-define(SENDERS, 4).

main() ->
    PerSender = bench_util:scaled(1000000),
    Total = PerSender * ?SENDERS,
    Self = self(),
    Receiver = spawn(fun() -> Self ! {received, receive_all(Total, 0)} end),
    Start = bench_util:now_ns(),
    [spawn(fun() -> send_all(Receiver, PerSender) end) || _ <- lists:seq(1, ?SENDERS)],
    Sum = receive {received, Value} -> Value end,
    Elapsed = bench_util:now_ns() - Start,
    Expected = ?SENDERS * (PerSender * (PerSender + 1) div 2),
    Sum =:= Expected orelse bench_util:fail("fanin: messages lost or altered"),
    bench_util:report("fanin_msgs_per_s", round(Total * 1.0e9 / Elapsed), "per_s").

send_all(_, 0) -> ok;
send_all(Receiver, Left) ->
    Receiver ! Left,
    send_all(Receiver, Left - 1).

receive_all(0, Sum) -> Sum;
receive_all(Left, Sum) ->
    receive Value -> receive_all(Left - 1, Sum + Value) end.
