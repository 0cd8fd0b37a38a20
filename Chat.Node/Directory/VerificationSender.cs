using Akka.Configuration;
using Chat.Node.Hosting;

namespace Chat.Node.Directory;

/// <summary>
/// Delivers a verification code to a phone: an SMS gateway, a voice call, or (for development) the node's log. Called
/// by the phone's directory entry, on whichever node holds it, once per code; the client is answered once the task
/// completes, and a failed task voids the code (the client is told to try again later).
/// </summary>
public interface IVerificationSender
{
    Task SendAsync(string phone, string code, CancellationToken cancellationToken);
}

/// <summary>The development sender: writes <c>verification code for +14155550101: 123456</c> to the node's output.</summary>
public sealed class LogVerificationSender(OperatorReport report) : IVerificationSender
{
    public Task SendAsync(string phone, string code, CancellationToken cancellationToken)
    {
        report.Write("verification-code", $"verification code for {phone}: {code}", [new("phone", phone), new("code", code)]);
        return Task.CompletedTask;
    }
}

public static class VerificationSenders
{
    /// <summary>
    /// The sender named by <c>chat.verification.sender</c>: <c>log</c>, or the assembly-qualified name of a type that
    /// implements <see cref="IVerificationSender"/>, built with its constructor that takes the <c>chat.verification</c>
    /// section (a <see cref="Config"/>) or else its parameterless one.
    /// </summary>
    public static IVerificationSender Create(VerificationSettings settings, Config section, OperatorReport report)
    {
        if (settings.Sender == "log") return new LogVerificationSender(report);
        var type = Type.GetType(settings.Sender, throwOnError: false)
            ?? throw new ArgumentException($"chat.verification.sender: type '{settings.Sender}' not found (put its assembly beside the node's executable)");
        if (!typeof(IVerificationSender).IsAssignableFrom(type))
            throw new ArgumentException($"chat.verification.sender: {type} does not implement {typeof(IVerificationSender).FullName}");
        var withConfig = type.GetConstructor([typeof(Config)]);
        if (withConfig is not null) return (IVerificationSender)withConfig.Invoke([section]);
        var plain = type.GetConstructor(Type.EmptyTypes)
            ?? throw new ArgumentException($"chat.verification.sender: {type} needs a constructor taking Akka.Configuration.Config, or none");
        return (IVerificationSender)plain.Invoke([]);
    }
}
