using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Chat.Cli;

/// <summary>
/// The HTTP client of a node's admin endpoint (<c>chat admin</c>): sends the bearer token, turns the endpoint's
/// failures into <see cref="CliException"/>s a person can act on, and hands back the JSON answer as sent.
/// </summary>
internal sealed class AdminClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _node;

    public AdminClient(string node, string token, TimeSpan timeout)
    {
        _node = node;
        _http = new HttpClient { BaseAddress = new Uri($"http://{node}/"), Timeout = timeout };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    public Task<string> GetAsync(string path, CancellationToken ct) => SendAsync(HttpMethod.Get, path, ct);

    public Task<string> PostAsync(string path, CancellationToken ct) => SendAsync(HttpMethod.Post, path, ct);

    private async Task<string> SendAsync(HttpMethod method, string path, CancellationToken ct)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(new HttpRequestMessage(method, path), ct);
        }
        catch (HttpRequestException e)
        {
            throw new CliException($"cannot reach the admin endpoint at {_node} ({e.Message}); is the node running with --admin-port?");
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new CliException($"the admin endpoint at {_node} did not answer within {_http.Timeout.TotalSeconds:0} s");
        }
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(ct);
            if (response.StatusCode == HttpStatusCode.Unauthorized)
                throw new CliException($"the node at {_node} refused the token (401): give the node's admin.token with --token-file FILE or --data DIR");
            if (!response.IsSuccessStatusCode)
                throw new CliException($"{(int)response.StatusCode} {response.ReasonPhrase}: {ErrorOf(body)}");
            return body;
        }
    }

    /// <summary>The endpoint's <c>{"error": "..."}</c>, or the body as it came.</summary>
    private static string ErrorOf(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var error))
                return error.GetString() ?? body;
        }
        catch (JsonException)
        {
        }
        return body.Length == 0 ? "no details" : body;
    }

    /// <summary>The token: from <paramref name="tokenFile"/>, else from <c>admin.token</c> in the node's data directory.</summary>
    public static string ReadToken(string? tokenFile, string? dataDirectory)
    {
        var path = tokenFile ?? (dataDirectory is not null ? Path.Combine(dataDirectory, "admin.token") : null)
            ?? throw new CliException("no admin token: give --token-file FILE, or --data DIR for the node's data directory (its admin.token)");
        string token;
        try
        {
            token = File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot read the admin token from {path}: {e.Message}");
        }
        if (token.Length == 0) throw new CliException($"{path} is empty: it should hold the node's admin token");
        return token;
    }

    public void Dispose() => _http.Dispose();
}
