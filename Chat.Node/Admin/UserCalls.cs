using Akka.Actor;
using Chat.Node.Directory;
using Chat.Node.Hosting;
using Chat.Node.Sessions;
using Chat.Node.Users;
using Microsoft.AspNetCore.Http;

namespace Chat.Node.Admin;

/// <summary><c>chat admin user PHONE|ID</c>: a user's profile, devices online and inbox position (never message text).</summary>
internal static class UserCalls
{
    public sealed record UserView(string Id, string Name, string Phone, IReadOnlyList<string> Devices, int InboxLength, long LastSeq,
        long AckedSeq, int Groups, bool Closed);

    public static async Task<IResult> UserAsync(AdminContext node, string phoneOrId, CancellationToken ct)
    {
        UserId id;
        try
        {
            if (phoneOrId.StartsWith('+'))
            {
                if (!SessionRules.IsE164(phoneOrId))
                    return AdminContext.Problem(StatusCodes.Status400BadRequest, $"'{phoneOrId}' is not an E.164 phone number (+ and 8 to 15 digits)");
                var phones = await node.Registry.GetAsync<PhoneRegion>(ct).ConfigureAwait(false);
                var owner = await phones.Ask<PhoneOwner>(new LookupPhone(phoneOrId, 0), AdminContext.AskTimeout, ct).ConfigureAwait(false);
                if (owner.UserId is not { } found) return AdminContext.Problem(StatusCodes.Status404NotFound, $"no user has {phoneOrId}");
                id = found;
            }
            else if (UserId.IsValid(phoneOrId))
                id = new UserId(phoneOrId);
            else
                return AdminContext.Problem(StatusCodes.Status400BadRequest, $"'{phoneOrId}' is neither a phone number (+...) nor a user id (u...)");
            var users = await node.Registry.GetAsync<UserRegion>(ct).ConfigureAwait(false);
            var d = await users.Ask<UserDescription>(new DescribeUser(id), AdminContext.AskTimeout, ct).ConfigureAwait(false);
            if (!d.Exists) return AdminContext.Problem(StatusCodes.Status404NotFound, $"no user {id.Value}");
            return Results.Json(new UserView(d.UserId.Value, d.Name, d.Phone, d.Devices, d.InboxLength, d.LastSeq, d.AckedSeq, d.Groups, d.Closed));
        }
        catch (AskTimeoutException)
        {
            return AdminContext.Problem(StatusCodes.Status504GatewayTimeout, "the user's entity did not answer in time; retry");
        }
    }
}
