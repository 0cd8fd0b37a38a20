using Chat.Node.Users;

namespace Chat.Tests;

/// <summary>
/// The dedup keys an inbox recognises resends by: over thousands of messages, merges, expiry and a snapshot round
/// trip, every key answers what a plain dictionary would (a resend missed is a message stored twice; a key answered
/// wrongly is a resend answered with another message).
/// </summary>
public sealed class ResendKeysTests
{
    [Theory]
    [InlineData(7)]
    [InlineData(20261201)]
    public void Every_key_answers_as_a_dictionary_would_through_merges_expiry_and_a_reload(int seed)
    {
        var random = new Random(seed);
        var keys = new ResendKeys();
        var model = new Dictionary<long, long>();
        var seen = new List<long>();
        long seq = 0, before = 1;
        for (var round = 0; round < 20_000; round++)
        {
            var roll = random.Next(100);
            if (roll < 70 || seen.Count == 0)
            {
                // a new message; now and then one whose key was seen before (a hash shared by two messages)
                var key = roll < 3 && seen.Count > 0 ? seen[random.Next(seen.Count)] : random.NextInt64(long.MinValue, long.MaxValue);
                keys.Set(key, ++seq);
                model[key] = seq;
                seen.Add(key);
            }
            else if (roll < 98)
            {
                var key = random.Next(4) == 0 ? random.NextInt64() : seen[random.Next(seen.Count)];
                var found = keys.TryGet(key, out var at);
                Assert.Equal(model.TryGetValue(key, out var expected), found);
                if (found) Assert.Equal(expected, at);
            }
            else if (roll == 98)
            {
                before = Math.Min(seq, before + random.Next(500));
                keys.RemoveBefore(before);
                foreach (var gone in model.Where(p => p.Value < before).Select(p => p.Key).ToList()) model.Remove(gone);
            }
            else
            {
                var (k, s) = keys.ToArrays();
                keys = new ResendKeys();
                keys.Load(k, s);
            }
            Assert.Equal(model.Count, keys.Count);
        }
        foreach (var (key, at) in model)
        {
            Assert.True(keys.TryGet(key, out var found));
            Assert.Equal(at, found);
        }
    }
}
