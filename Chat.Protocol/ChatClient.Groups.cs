namespace Chat.Protocol;

// Group requests: create, change members and admins, rename, set the picture, leave, and read a group's details.
public sealed partial class ChatClient
{
    /// <summary>Creates a group with this user as admin; returns its id.</summary>
    public Task<string> CreateGroupAsync(string name, IReadOnlyList<string> members, CancellationToken cancellationToken = default)
        => RequestGroupAsync(name, members, null, cancellationToken);

    /// <summary>
    /// Creates a group under the client's own id for this creation (1 to 64 characters): asked again with the same
    /// <paramref name="clientGroupId"/> (after a timeout or a reconnect), it answers the same group id and creates
    /// nothing more.
    /// </summary>
    public Task<string> CreateGroupAsync(string name, IReadOnlyList<string> members, string clientGroupId,
        CancellationToken cancellationToken = default)
        => RequestGroupAsync(name, members, clientGroupId, cancellationToken);

    private async Task<string> RequestGroupAsync(string name, IReadOnlyList<string> members, string? clientGroupId, CancellationToken cancellationToken)
        => ((GroupCreated)await RequestAsync(id => new CreateGroup(id, name, members, clientGroupId), cancellationToken).ConfigureAwait(false)).GroupId;

    /// <summary>Adds members (admins only).</summary>
    public Task AddMembersAsync(string groupId, IReadOnlyList<string> members, CancellationToken cancellationToken = default)
        => RequestAsync(id => new AddMembers(id, groupId, members), cancellationToken);

    /// <summary>Removes members (admins only).</summary>
    public Task RemoveMembersAsync(string groupId, IReadOnlyList<string> members, CancellationToken cancellationToken = default)
        => RequestAsync(id => new RemoveMembers(id, groupId, members), cancellationToken);

    /// <summary>Leaves a group.</summary>
    public Task LeaveGroupAsync(string groupId, CancellationToken cancellationToken = default)
        => RequestAsync(id => new LeaveGroup(id, groupId), cancellationToken);

    /// <summary>Renames a group.</summary>
    public Task RenameGroupAsync(string groupId, string name, CancellationToken cancellationToken = default)
        => RequestAsync(id => new RenameGroup(id, groupId, name), cancellationToken);

    /// <summary>Sets the group's picture to uploaded media (an image), or removes it with null.</summary>
    public Task SetGroupImageAsync(string groupId, MediaRef? image, CancellationToken cancellationToken = default)
        => RequestAsync(id => new SetGroupImage(id, groupId, image), cancellationToken);

    /// <summary>Promotes a member to admin, or demotes an admin (admins only).</summary>
    public Task SetAdminAsync(string groupId, string member, bool isAdmin, CancellationToken cancellationToken = default)
        => RequestAsync(id => new SetAdmin(id, groupId, member, isAdmin), cancellationToken);

    /// <summary>A group's name, members and admins (members only).</summary>
    public async Task<GroupInfo> GetGroupInfoAsync(string groupId, CancellationToken cancellationToken = default)
        => (GroupInfo)await RequestAsync(id => new GetGroupInfo(id, groupId), cancellationToken).ConfigureAwait(false);

    /// <summary>The groups this user belongs to.</summary>
    public async Task<IReadOnlyList<GroupSummary>> ListGroupsAsync(CancellationToken cancellationToken = default)
        => ((GroupList)await RequestAsync(id => new ListGroups(id), cancellationToken).ConfigureAwait(false)).Groups;
}
