using Akka.Actor;

namespace Chat.Node.Sessions;

/// <summary>
/// Asks a sharded region a question whose repeat changes nothing (a lookup, group info, a read marker): when no answer
/// comes within <c>chat.session.resend-after</c>, the question is asked again, then after twice as long, and so on until
/// the request timeout. A shard handed from one node to another drops the messages it had buffered for it (Akka's
/// sharding does so to keep their order); without the repeat such a request would wait the whole timeout and fail.
/// The answer to the latest try counts; at most four tries fit in the default 10 s. A zero <c>firstRepeat</c> asks once.
/// </summary>
public static class RepeatedAsk
{
    public static async Task<T> AskAsync<T>(IActorRef target, object question, TimeSpan timeout, TimeSpan firstRepeat)
    {
        var start = Environment.TickCount64;
        var wait = firstRepeat > TimeSpan.Zero ? firstRepeat : timeout;
        while (true)
        {
            var left = timeout - TimeSpan.FromMilliseconds(Environment.TickCount64 - start);
            if (left <= TimeSpan.Zero) throw new AskTimeoutException($"no answer to {question.GetType().Name} within {timeout}");
            var last = left <= wait;
            try
            {
                return await target.Ask<T>(question, last ? left : wait).ConfigureAwait(false);
            }
            catch (AskTimeoutException) when (!last)
            {
                wait += wait; // a slow entity (one recovering its journal) is not asked ever more often
            }
        }
    }
}
