using System.ComponentModel;
using Chat.Protocol;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Chat.Cli.Commands;

// ---------- settings ----------

/// <summary>Settings of the group commands that act on one existing group.</summary>
internal class GroupSettings : ProfileSettings
{
    [CommandOption("-g|--group <GROUPID>", isRequired: true)]
    [Description("The group id (g...), as printed by 'group create' or 'group list'")]
    public string Group { get; set; } = "";

    public override ValidationResult Validate()
    {
        var result = base.Validate();
        if (!result.Successful) return result;
        return ChatIds.IsGroupId(Group)
            ? ValidationResult.Success()
            : ValidationResult.Error($"--group must be a group id ('g' and 16 characters), got '{Group}'");
    }
}

internal sealed class GroupCreateSettings : ProfileSettings
{
    [CommandOption("-n|--name <NAME>", isRequired: true)]
    [Description("The group's name")]
    public string Name { get; set; } = "";

    [CommandOption("-m|--members <MEMBERS>")]
    [Description("Comma-separated members besides you: phone numbers starting with '+' (looked up) or user ids. " +
                 "Without it the group has only you")]
    public string? Members { get; set; }

    public override ValidationResult Validate()
    {
        var result = base.Validate();
        if (!result.Successful) return result;
        return string.IsNullOrWhiteSpace(Name) ? ValidationResult.Error("--name must not be empty") : ValidationResult.Success();
    }
}

internal sealed class GroupMembersSettings : GroupSettings
{
    [CommandOption("-m|--members <MEMBERS>", isRequired: true)]
    [Description("Comma-separated users: phone numbers starting with '+' (looked up) or user ids")]
    public string Members { get; set; } = "";

    public override ValidationResult Validate()
    {
        var result = base.Validate();
        if (!result.Successful) return result;
        return ChatIds.SplitList(Members).Count == 0
            ? ValidationResult.Error("--members must name at least one user")
            : ValidationResult.Success();
    }
}

internal sealed class GroupRenameSettings : GroupSettings
{
    [CommandOption("-n|--name <NAME>", isRequired: true)]
    [Description("The new name")]
    public string Name { get; set; } = "";

    public override ValidationResult Validate()
    {
        var result = base.Validate();
        if (!result.Successful) return result;
        return string.IsNullOrWhiteSpace(Name) ? ValidationResult.Error("--name must not be empty") : ValidationResult.Success();
    }
}

internal sealed class GroupImageSettings : GroupSettings
{
    [CommandOption("-f|--file <PATH>")]
    [Description("The picture: a JPEG, PNG, WebP or GIF file")]
    public string? File { get; set; }

    [CommandOption("--clear")]
    [Description("Remove the group's picture")]
    public bool Clear { get; set; }

    public override ValidationResult Validate()
    {
        var result = base.Validate();
        if (!result.Successful) return result;
        if ((File is null) == !Clear) return ValidationResult.Error("give --file PATH or --clear");
        if (File is not null && !System.IO.File.Exists(File)) return ValidationResult.Error($"no file '{File}'");
        if (File is not null && MediaFiles.ContentTypeOf(File) is null)
            return ValidationResult.Error($"cannot tell the picture's type from '{File}': use .jpg, .png, .webp or .gif");
        if (File is not null && !MediaFiles.ContentTypeOf(File)!.StartsWith("image/", StringComparison.Ordinal))
            return ValidationResult.Error("a group picture is an image (.jpg, .png, .webp or .gif)");
        return ValidationResult.Success();
    }
}

internal sealed class GroupMemberSettings : GroupSettings
{
    [CommandOption("-m|--member <PHONE|USERID>", isRequired: true)]
    [Description("A member: a phone number starting with '+' (looked up) or a user id")]
    public string Member { get; set; } = "";
}

internal sealed class GroupInfoSettings : GroupSettings
{
    [CommandOption("--json")]
    [Description("One JSON object: {\"id\",\"name\",\"members\":[...],\"admins\":[...],\"lastGroupSeq\",\"image\"}")]
    public bool Json { get; set; }
}

internal sealed class GroupListSettings : ProfileSettings
{
    [CommandOption("--json")]
    [Description("One JSON array: [{\"id\",\"name\"}, ...] ([] when you are in no group)")]
    public bool Json { get; set; }
}

// ---------- commands ----------

/// <summary>Logs in with the profile, runs one group request and closes the connection.</summary>
internal abstract class GroupCommand<TSettings>(IAnsiConsole console, ProfileStore profiles)
    : ChatCommand<TSettings>(console, profiles)
    where TSettings : ProfileSettings
{
    public sealed override async Task<int> ExecuteAsync(CommandContext context, TSettings settings,
        CancellationToken cancellationToken)
    {
        var profile = Profiles.Load(settings.Profile);
        var (client, _) = await LoginAsync(profile, CommandDevice, cancellationToken);
        await using (client)
            await RunAsync(client, settings, cancellationToken);
        return 0;
    }

    protected abstract Task RunAsync(ChatClient client, TSettings settings, CancellationToken ct);

    protected static string Plural(int count, string one) => count == 1 ? $"1 {one}" : $"{count} {one}s";
}

/// <summary>Creates a group with this profile as admin and prints the group id (alone on its line, for scripts).</summary>
internal sealed class GroupCreateCommand(IAnsiConsole console, ProfileStore profiles)
    : GroupCommand<GroupCreateSettings>(console, profiles)
{
    protected override async Task RunAsync(ChatClient client, GroupCreateSettings settings, CancellationToken ct)
    {
        var members = await ResolveUsersAsync(client, ChatIds.SplitList(settings.Members), ct);
        Out.WriteLine(await client.CreateGroupAsync(settings.Name, members, ct));
    }
}

/// <summary>Adds or removes members (admins only).</summary>
internal abstract class GroupMembersCommand(IAnsiConsole console, ProfileStore profiles, bool add)
    : GroupCommand<GroupMembersSettings>(console, profiles)
{
    protected override async Task RunAsync(ChatClient client, GroupMembersSettings settings, CancellationToken ct)
    {
        var members = await ResolveUsersAsync(client, ChatIds.SplitList(settings.Members), ct);
        await (add ? client.AddMembersAsync(settings.Group, members, ct) : client.RemoveMembersAsync(settings.Group, members, ct));
        Out.WriteLine($"{(add ? "added" : "removed")} {Plural(members.Count, "member")}");
    }
}

internal sealed class GroupAddCommand(IAnsiConsole console, ProfileStore profiles)
    : GroupMembersCommand(console, profiles, add: true);

internal sealed class GroupRemoveCommand(IAnsiConsole console, ProfileStore profiles)
    : GroupMembersCommand(console, profiles, add: false);

/// <summary>Leaves a group.</summary>
internal sealed class GroupLeaveCommand(IAnsiConsole console, ProfileStore profiles)
    : GroupCommand<GroupSettings>(console, profiles)
{
    protected override async Task RunAsync(ChatClient client, GroupSettings settings, CancellationToken ct)
    {
        await client.LeaveGroupAsync(settings.Group, ct);
        Out.WriteLine("left the group");
    }
}

/// <summary>Renames a group (any member).</summary>
internal sealed class GroupRenameCommand(IAnsiConsole console, ProfileStore profiles)
    : GroupCommand<GroupRenameSettings>(console, profiles)
{
    protected override async Task RunAsync(ChatClient client, GroupRenameSettings settings, CancellationToken ct)
    {
        await client.RenameGroupAsync(settings.Group, settings.Name, ct);
        Out.WriteLine("renamed");
    }
}

/// <summary>Uploads a picture and sets it as the group's, or removes the group's picture.</summary>
internal sealed class GroupImageCommand(IAnsiConsole console, ProfileStore profiles)
    : GroupCommand<GroupImageSettings>(console, profiles)
{
    protected override async Task RunAsync(ChatClient client, GroupImageSettings settings, CancellationToken ct)
    {
        if (settings.Clear)
        {
            await client.SetGroupImageAsync(settings.Group, null, ct);
            Out.WriteLine("picture removed");
            return;
        }
        var path = settings.File!;
        await using var file = File.OpenRead(path);
        var uploaded = await MediaFiles.WithProgress(Console, $"uploading {Path.GetFileName(path)}",
            progress => client.UploadAsync(file, MediaFiles.ContentTypeOf(path)!, progress: progress, cancellationToken: ct));
        await client.SetGroupImageAsync(settings.Group, new MediaRef(uploaded.MediaId), ct);
        Out.WriteLine(uploaded.MediaId);
    }
}

/// <summary>Makes a member an admin, or an admin a plain member (admins only).</summary>
internal abstract class GroupSetAdminCommand(IAnsiConsole console, ProfileStore profiles, bool isAdmin)
    : GroupCommand<GroupMemberSettings>(console, profiles)
{
    protected override async Task RunAsync(ChatClient client, GroupMemberSettings settings, CancellationToken ct)
    {
        var member = await ResolveUserAsync(client, settings.Member, ct);
        await client.SetAdminAsync(settings.Group, member, isAdmin, ct);
        Out.WriteLine(isAdmin ? "promoted" : "demoted");
    }
}

internal sealed class GroupPromoteCommand(IAnsiConsole console, ProfileStore profiles)
    : GroupSetAdminCommand(console, profiles, isAdmin: true);

internal sealed class GroupDemoteCommand(IAnsiConsole console, ProfileStore profiles)
    : GroupSetAdminCommand(console, profiles, isAdmin: false);

/// <summary>Shows a group's name, members and admins (members only).</summary>
internal sealed class GroupInfoCommand(IAnsiConsole console, ProfileStore profiles)
    : GroupCommand<GroupInfoSettings>(console, profiles)
{
    protected override async Task RunAsync(ChatClient client, GroupInfoSettings settings, CancellationToken ct)
    {
        var info = await client.GetGroupInfoAsync(settings.Group, ct);
        if (settings.Json)
        {
            Out.WriteLine(InboxFormat.Json(w =>
            {
                w.WriteString("id", info.GroupId);
                w.WriteString("name", info.Name);
                InboxFormat.WriteStrings(w, "members", info.Members);
                InboxFormat.WriteStrings(w, "admins", info.Admins);
                w.WriteNumber("lastGroupSeq", info.LastGroupSeq);
                if (info.Image is { } image) w.WriteString("image", image.MediaId);
            }));
            return;
        }
        Say($"[grey]group id[/] {info.GroupId.EscapeMarkup()}");
        Say($"[grey]name[/]     {info.Name.EscapeMarkup()}");
        if (info.Image is { } picture)
            Say($"[grey]picture[/]  {picture.MediaId.EscapeMarkup()} ({picture.ContentType.EscapeMarkup()}, {InboxFormat.Size(picture.Size)})");
        Say($"[grey]members[/]  {info.Members.Count}");
        var admins = info.Admins.ToHashSet();
        foreach (var member in info.Members)
            Say($"  {member.EscapeMarkup()}{(admins.Contains(member) ? " [yellow](admin)[/]" : "")}");
    }
}

/// <summary>Lists the groups this profile belongs to.</summary>
internal sealed class GroupListCommand(IAnsiConsole console, ProfileStore profiles)
    : GroupCommand<GroupListSettings>(console, profiles)
{
    protected override async Task RunAsync(ChatClient client, GroupListSettings settings, CancellationToken ct)
    {
        var groups = await client.ListGroupsAsync(ct);
        if (settings.Json)
        {
            Out.WriteLine(InboxFormat.JsonValue(w =>
            {
                w.WriteStartArray();
                foreach (var g in groups)
                {
                    w.WriteStartObject();
                    w.WriteString("id", g.GroupId);
                    w.WriteString("name", g.Name);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }));
            return;
        }
        if (groups.Count == 0)
        {
            Say("[grey]no groups[/]");
            return;
        }
        foreach (var g in groups)
            Say($"{g.GroupId.EscapeMarkup()}  {g.Name.EscapeMarkup()}");
    }
}
