using Akka.Actor;
using Chat.Node.Media;
using Chat.Node.Users;
using Chat.Protocol;
using Error = Chat.Protocol.Error;
using static Chat.Node.Sessions.SessionRules;

namespace Chat.Node.Sessions;

// Media: the transfer child that serves uploads and downloads, and looking up the stored media a message or a
// group picture refers to (the sender may only name media they may see).
public sealed partial class Session
{
    /// <summary>
    /// Looks a referenced media item up in the store (of the given <paramref name="kind"/>, when one is required) and
    /// renews its last-referenced time. The answer carries what was stored (type and size from the store, the client's
    /// thumbnail), or the Error for the client.
    /// </summary>
    private static async Task<(MediaRef? Stored, Error? Problem)> ReferStoredMedia(IMediaStore store, MediaRef media,
        uint requestId, DateTimeOffset now, string user, Func<string, Task<bool>> maySee, MediaKind? kind = null)
    {
        var info = await store.GetAsync(media.MediaId).ConfigureAwait(false);
        // a message may name only media its sender may see: otherwise sending an id to oneself would unlock anyone's
        if (info is not null && info.Uploader != user && !await maySee(info.MediaId).ConfigureAwait(false)) info = null;
        if (info is null) return (null, new Error(requestId, ErrorCode.UnknownMedia, $"no media '{Truncate(media.MediaId)}'"));
        if (kind is { } required && MediaTypes.Kind(info.ContentType) != required)
            return (null, new Error(requestId, ErrorCode.MediaTypeNotAllowed, $"a group picture is an image, not {info.ContentType}"));
        await store.TouchAsync(info.MediaId, now).ConfigureAwait(false);
        return (new MediaRef(info.MediaId, info.ContentType, info.Size, media.Thumbnail), null);
    }

    private void OnMediaRequest(Frame frame)
    {
        var requestId = ((IRequest)frame).RequestId;
        if (_mediaInFlight >= _settings.Media.MaxChunksInFlight)
        {
            _connection.Write(new Error(requestId, ErrorCode.RateLimited,
                $"more than {_settings.Media.MaxChunksInFlight} media requests are unanswered; wait for an answer before sending more"));
            return;
        }
        _mediaInFlight++;
        _transfer ??= Context.ActorOf(MediaTransfer.Props(_media, _settings.Media, _user.Value, _clock, MaySeeMedia()), "media");
        _transfer.Tell(new MediaTransfer.Request(frame));
    }

    /// <summary>Asks this user's entity whether their inbox names a media item (safe to call off the actor: captures no context).</summary>
    private Func<string, Task<bool>> MaySeeMedia()
    {
        var (users, user, timeout, resendAfter, cluster) = (_users, _user, _settings.RequestTimeout, _settings.ResendAfter, _cluster);
        return async mediaId =>
        {
            var repeat = RepeatAfterIn(cluster, resendAfter); // read when asked: the cluster may have grown since
            return (await RepeatedAsk.AskAsync<MediaAccess>(users, new MaySeeMedia(user, mediaId), timeout, repeat).ConfigureAwait(false)).Allowed;
        };
    }
}
