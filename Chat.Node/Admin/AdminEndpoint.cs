using System.Net;
using Akka.Actor;
using Akka.Hosting;
using Chat.Node.Hosting;
using Chat.Node.Persistence;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;

namespace Chat.Node.Admin;

/// <summary>
/// The admin endpoint (chat.admin): Kestrel with minimal routing on its own port, beside the node's host. It starts
/// before the node joins the cluster, so that /health/live answers and /health/ready says "not yet" while the node
/// waits for its seed nodes; it stops after the client port has closed. Every path but /health/* needs the token.
/// </summary>
internal sealed class AdminEndpoint(IServiceProvider services, ChatSettings settings) : IHostedService
{
    private WebApplication? _app;

    /// <summary>Where the endpoint listens; null when chat.admin.port = off.</summary>
    public IPEndPoint? Endpoint { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (settings.Admin.Port is not { } port) return;
        if (!IPAddress.TryParse(settings.Admin.Host, out var address))
            throw new ArgumentException($"chat.admin.host must be an IP address (127.0.0.1, 0.0.0.0, ::), not '{settings.Admin.Host}'");
        var token = AdminToken.Load(settings.Admin, settings.DataDirectory);
        var node = new AdminContext(services.GetRequiredService<ActorSystem>(), settings, services.GetRequiredService<IActorRegistry>(),
            services.GetRequiredService<IJournalMaintenance>(), services.GetRequiredService<ChatNode.EdgeService>());

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "Chat.Node.Admin" });
        builder.Logging.ClearProviders();
        // signals belong to the node's program, not to this second host
        builder.Services.AddSingleton<IHostLifetime, NoLifetime>();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(address, port));
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(ChatMetrics.MeterName)
            .AddRuntimeInstrumentation()
            .AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0));
        var app = builder.Build();

        app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/health") || AdminToken.Authorizes(token, context.Request.Headers.Authorization))
            {
                await next(context).ConfigureAwait(false);
                return;
            }
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await AdminContext.Problem(StatusCodes.Status401Unauthorized,
                    $"this call needs Authorization: Bearer TOKEN (the token is in {AdminToken.FileName} in the node's data directory, or chat.admin.token)")
                .ExecuteAsync(context).ConfigureAwait(false);
        });
        app.MapGet("/health/live", Health.Live);
        app.MapGet("/health/ready", (CancellationToken ct) => Health.ReadyAsync(node, ct));
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapGet("/admin/status", () => ClusterCalls.Status(node));
        app.MapGet("/admin/shards", (CancellationToken ct) => ShardCalls.ShardsAsync(node, ct));
        app.MapGet("/admin/sessions", (CancellationToken ct) => SessionCalls.SessionsAsync(node, ct));
        app.MapGet("/admin/users/{user}", (string user, CancellationToken ct) => UserCalls.UserAsync(node, user, ct));
        app.MapGet("/admin/retention", (CancellationToken ct) => RetentionCalls.ReportAsync(node, ct));
        app.MapPost("/admin/retention/run", (CancellationToken ct) => RetentionCalls.RunAsync(node, ct));
        app.MapPost("/admin/nodes/leave", (string? address) => ClusterCalls.Leave(node, address));
        app.MapPost("/admin/nodes/down", (string? address) => ClusterCalls.Down(node, address));

        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Endpoint = new IPEndPoint(address, new Uri(bound).Port);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is null) return;
        await _app.StopAsync(cancellationToken).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _app = null;
    }

    private sealed class NoLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
