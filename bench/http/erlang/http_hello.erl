%% The HTTP/1.1 hello server of examples/guest/http_hello.c written with
%% gen_tcp, the reference for bench/http: one process per connection,
%% keep-alive and pipelining, every request answered with the 13-byte body
%% "Hello, World!". Writes its port to the file named by its argument.
-module(http_hello).
-export([main/1]).

-define(RESPONSE, <<"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n"
                    "Content-Type: text/plain\r\n\r\nHello, World!">>).

main([PortFile]) ->
    {ok, Listen} = gen_tcp:listen(0, [binary, {active, false}, {reuseaddr, true},
                                      {ip, {127, 0, 0, 1}}, {backlog, 4096},
                                      {nodelay, true}]),
    {ok, Port} = inet:port(Listen),
    ok = file:write_file(PortFile, integer_to_list(Port)),
    accept(Listen).

accept(Listen) ->
    {ok, Socket} = gen_tcp:accept(Listen),
    Pid = spawn(fun() -> receive go -> serve(Socket, <<>>) end end),
    ok = gen_tcp:controlling_process(Socket, Pid),
    Pid ! go,
    accept(Listen).

serve(Socket, Buffer) ->
    case gen_tcp:recv(Socket, 0, 60000) of
        {ok, Data} ->
            {Count, Rest} = requests(<<Buffer/binary, Data/binary>>, 0),
            case Count of
                0 -> ok;
                _ -> gen_tcp:send(Socket, binary:copy(?RESPONSE, Count))
            end,
            serve(Socket, Rest);
        {error, _} ->
            gen_tcp:close(Socket)
    end.

%% Counts the complete request heads (GET: no bodies) and keeps the rest.
requests(Buffer, Count) ->
    case binary:match(Buffer, <<"\r\n\r\n">>) of
        {Position, 4} ->
            requests(binary:part(Buffer, Position + 4, byte_size(Buffer) - Position - 4),
                     Count + 1);
        nomatch ->
            {Count, Buffer}
    end.
