import { useEffect, useRef, useState } from "preact/hooks";
import * as api from "./api";
import type { Room, User } from "./api";
import type { Attachment, ChatMessage } from "./chat";
import { PeoplePicker } from "./rooms";
import { store, useStore } from "./store";
import { Avatar, Dialog, FileButton, formatSize } from "./widgets";

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "short" });

function sentence(m: ChatMessage): string {
  const actor = store.userName(m.senderId);
  const subject = m.value ? store.userName(m.value) : "someone";
  switch (m.operation) {
    case "roomNameChanged":
      return `${actor} renamed the room to “${m.value}”`;
    case "roomDescriptionChanged":
      return `${actor} changed the description to “${m.value}”`;
    case "roomPictureUpdated":
      return `${actor} changed the room picture`;
    case "roomPictureDeleted":
      return `${actor} removed the room picture`;
    case "memberAdded":
      return m.value === m.senderId ? `${subject} joined` : `${actor} added ${subject}`;
    case "memberRemoved":
      return m.value === m.senderId ? `${subject} left` : `${actor} removed ${subject}`;
    case "roomCreation":
      return `${actor} created the room`;
    default:
      return `${actor} changed the room`;
  }
}

function AttachmentView({ a }: { a: Attachment }) {
  const download = api.url(`attachments/${a.id}/download`);
  const image = /^image\/(jpeg|png|gif|webp)$/.test(a.mimeType);
  const pdf = a.mimeType === "application/pdf";
  if (image || pdf) {
    const format = a.mimeType === "image/png" || a.mimeType === "image/gif" ? "Png" : "Jpeg";
    const thumb = image
      ? api.url(`preview/image/${a.id}/320x240/thumbnail?quality=Low&output_format=${format}&shape=Rectangular`)
      : api.url(`preview/pdf/${a.id}/320x240/thumbnail?quality=Low&output_format=Jpeg`);
    return (
      <a href={download} download={a.name} class="thumb">
        <img src={thumb} alt={`Thumbnail of ${a.name}`} loading="lazy" />
      </a>
    );
  }
  return (
    <div class="filecard">
      <span class="fileicon" aria-hidden="true">📄</span>
      <span>{a.name} ({formatSize(a.size)})</span>
      <a href={download} download={a.name}>Download {a.name}</a>
    </div>
  );
}

function MessageView({ m, onReply, onForward }: { m: ChatMessage; onReply: (m: ChatMessage) => void; onForward: (m: ChatMessage) => void }) {
  if (m.operation) return <p class="system">{sentence(m)} <time dateTime={m.time.toISOString()}>{timeFormat.format(m.time)}</time></p>;
  const replied = m.replyTo ? store.messageById(m.roomId, m.replyTo) : undefined;
  return (
    <article class="message" aria-label={`${store.userName(m.senderId)}, ${timeFormat.format(m.time)}`}>
      <Avatar userId={m.senderId} />
      <div class="content">
        <div class="meta">
          <strong>{store.userName(m.senderId)}</strong> <time dateTime={m.time.toISOString()}>{timeFormat.format(m.time)}</time>
        </div>
        {m.replyTo && <blockquote class="quote">{replied ? `${store.userName(replied.senderId)}: ${replied.body || replied.attachment?.name || ""}` : "Reply to an earlier message"}</blockquote>}
        {m.forwardedFrom && <p class="forwarded">Forwarded from {store.userName(m.forwardedFrom.senderId)}</p>}
        {m.attachment && <AttachmentView a={m.attachment} />}
        {m.body && <p class="body">{m.body}</p>}
        <div class="tools">
          <button type="button" onClick={() => onReply(m)} disabled={!m.archiveId}>Reply</button>
          <button type="button" onClick={() => onForward(m)}>Forward</button>
        </div>
      </div>
    </article>
  );
}

interface Upload {
  name: string;
  progress: number;
}

async function imageArea(file: File): Promise<string | undefined> {
  if (!file.type.startsWith("image/")) return undefined;
  try {
    const bitmap = await createImageBitmap(file);
    const area = `${bitmap.width}x${bitmap.height}`;
    bitmap.close();
    return area;
  } catch {
    return undefined;
  }
}

export function RoomView({ roomId }: { roomId: string }) {
  const s = useStore();
  const room = s.rooms.get(roomId)!;
  const timeline = s.timelines.get(roomId);
  const [text, setText] = useState("");
  const [replyTo, setReplyTo] = useState<ChatMessage | null>(null);
  const [forwarding, setForwarding] = useState<ChatMessage | null>(null);
  const [settings, setSettings] = useState(false);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [dragging, setDragging] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const log = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const messagingOff = !s.config?.xmppWebsocketUrl;
  const [files, setFiles] = useState<Attachment[]>([]);
  async function listFiles() {
    // Without XMPP the files of the room are still there: listed from the API instead.
    try {
      const page = await api.call<{ attachments?: Attachment[] }>("GET", `rooms/${roomId}/attachments`);
      setFiles(page.attachments ?? []);
    } catch (e) {
      setError((e as Error).message);
    }
  }
  useEffect(() => {
    if (messagingOff) void listFiles();
  }, [roomId]);
  const count = timeline?.messages.length ?? 0;

  useEffect(() => {
    const el = log.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [count, timeline?.loading]);
  useEffect(() => {
    if (!timeline && s.chatOnline) void store.loadHistory(roomId);
  }, [s.chatOnline]);

  async function send(event?: Event) {
    event?.preventDefault();
    const body = text.trim();
    if (!body) return;
    try {
      stick.current = true;
      await store.send(roomId, body, replyTo ?? undefined);
      setText("");
      setReplyTo(null);
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  }

  async function attach(files: File[]) {
    for (const file of files) {
      const entry: Upload = { name: file.name, progress: 0 };
      setUploads((u) => [...u, entry]);
      try {
        const headers: Record<string, string> = {
          fileName: api.escapeHeader(file.name),
          mimeType: file.type || "application/octet-stream",
          messageId: crypto.randomUUID(),
        };
        const area = await imageArea(file);
        if (area) headers.area = area;
        if (replyTo?.archiveId) headers.replyId = replyTo.archiveId;
        stick.current = true;
        await api.upload("POST", `rooms/${roomId}/attachments`, file, headers, (p) => {
          entry.progress = p;
          setUploads((u) => [...u]);
        });
        setReplyTo(null);
        if (messagingOff) void listFiles();
      } catch (e) {
        setError(`${file.name}: ${(e as Error).message}`);
      } finally {
        setUploads((u) => u.filter((x) => x !== entry));
      }
    }
  }

  return (
    <main
      class={`room${dragging ? " dragging" : ""}`}
      onDragOver={(e) => {
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(e) => {
        e.preventDefault();
        setDragging(false);
        const files = [...(e.dataTransfer?.files ?? [])];
        if (files.length) void attach(files);
      }}
    >
      <header class="roomhead">
        {room.type === "one_to_one" ? <Avatar userId={s.otherMember(room)} /> : <Avatar roomId={room.id} name={s.displayName(room)} />}
        <div>
          <h1>{s.displayName(room)}</h1>
          {room.description && <p class="description">{room.description}</p>}
        </div>
        <button type="button" onClick={() => setSettings(true)}>Room settings</button>
      </header>
      <div
        class="log"
        role="log"
        aria-label="Conversation"
        tabIndex={0}
        ref={log}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
          if (el.scrollTop < 40 && timeline && !timeline.complete && !timeline.loading) void store.loadHistory(roomId, true);
        }}
      >
        {messagingOff ? (
          <>
            <p role="status" class="notice">{s.config?.messagingUnavailableReason}</p>
            {files.length > 0 && <h2 class="files">Files in this room</h2>}
            {files.map((f) => (
              <AttachmentView key={f.id} a={f} />
            ))}
          </>
        ) : (
          <>
            {timeline && !timeline.complete && (
              <button type="button" class="older" disabled={timeline.loading} onClick={() => void store.loadHistory(roomId, true)}>
                {timeline.loading ? "Loading…" : "Load older messages"}
              </button>
            )}
            {timeline?.complete && <p class="start">This is the beginning of the conversation.</p>}
            {timeline?.error && <p role="alert" class="error">{timeline.error}</p>}
            {timeline?.messages.map((m) => (
              <MessageView key={m.archiveId ?? m.id} m={m} onReply={setReplyTo} onForward={setForwarding} />
            ))}
          </>
        )}
      </div>
      {uploads.map((u) => (
        <div class="upload" key={u.name}>
          <label>
            Uploading {u.name}
            <progress max={1} value={u.progress} />
          </label>
        </div>
      ))}
      {error && <p role="alert" class="error">{error}</p>}
      {replyTo && (
        <div class="replying">
          Replying to {store.userName(replyTo.senderId)}: {replyTo.body.slice(0, 80)}
          <button type="button" onClick={() => setReplyTo(null)}>Cancel reply</button>
        </div>
      )}
      <form class="composer" onSubmit={send}>
        <FileButton label="Attach file" multiple onFiles={(f) => void attach(f)} />
        <label class="grow">
          <span class="visually-hidden">Message</span>
          <textarea
            rows={2}
            value={text}
            disabled={messagingOff}
            placeholder={messagingOff ? "Messages are unavailable" : s.chatOnline ? "Write a message" : "Connecting…"}
            onInput={(e) => setText(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
                e.preventDefault();
                void send();
              }
            }}
          />
        </label>
        <button type="submit" disabled={messagingOff || !text.trim()}>Send</button>
      </form>
      {settings && <RoomSettings room={room} onClose={() => setSettings(false)} />}
      {forwarding && <Forward message={forwarding} onClose={() => setForwarding(null)} />}
    </main>
  );
}

function Forward({ message, onClose }: { message: ChatMessage; onClose: () => void }) {
  const s = useStore();
  const [error, setError] = useState<string | null>(null);
  async function to(target: Room) {
    try {
      await api.call("POST", `rooms/${target.id}/forward`, [{ originalMessage: message.xml, originalMessageSentAt: message.time.toISOString() }]);
      onClose();
    } catch (e) {
      setError((e as Error).message);
    }
  }
  return (
    <Dialog title="Forward to" onClose={onClose}>
      {error && <p role="alert" class="error">{error}</p>}
      <ul class="plain">
        {[...s.rooms.values()]
          .filter((r) => r.type !== "workspace")
          .map((r) => (
            <li key={r.id}>
              <button type="button" onClick={() => void to(r)}>{s.displayName(r)}</button>
            </li>
          ))}
      </ul>
    </Dialog>
  );
}

function RoomSettings({ room, onClose }: { room: Room; onClose: () => void }) {
  const s = useStore();
  const me = s.me!.id;
  const owner = room.members?.some((m) => m.userId === me && m.owner) ?? false;
  const [name, setName] = useState(room.name ?? "");
  const [description, setDescription] = useState(room.description ?? "");
  const [adding, setAdding] = useState<User[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  async function act(what: () => Promise<unknown>, message?: string) {
    setError(null);
    try {
      await what();
      if (message) setDone(message);
    } catch (e) {
      setError((e as Error).message);
    }
  }
  const named = room.type !== "one_to_one";
  const muted = room.userSettings?.muted ?? false;
  return (
    <Dialog title="Room settings" onClose={onClose}>
      {error && <p role="alert" class="error">{error}</p>}
      {done && <p role="status">{done}</p>}
      {named && (
        <form onSubmit={(e) => { e.preventDefault(); void act(() => api.call("PUT", `rooms/${room.id}`, { name, description }), "Saved"); }}>
          <label>
            Name
            <input required maxLength={128} value={name} disabled={!owner} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <label>
            Description
            <textarea maxLength={256} value={description} disabled={!owner} onInput={(e) => setDescription(e.currentTarget.value)} />
          </label>
          {owner && <button type="submit">Save</button>}
        </form>
      )}
      {named && owner && (
        <div class="row">
          <FileButton label="Room picture" accept="image/*" onFiles={(f) => void act(() => api.upload("PUT", `rooms/${room.id}/picture`, f[0]!, { fileName: api.escapeHeader(f[0]!.name), mimeType: f[0]!.type }), "Picture changed")} />
          {room.pictureUpdatedAt && <button type="button" onClick={() => void act(() => api.call("DELETE", `rooms/${room.id}/picture`))}>Remove picture</button>}
        </div>
      )}
      <h3>Members</h3>
      <ul class="members" aria-label="Members">
        {(room.members ?? []).map((m) => (
          <li key={m.userId}>
            <Avatar userId={m.userId} /> {s.userName(m.userId)} {m.owner && <em>(owner)</em>}
            {owner && m.userId !== me && named && (
              <>
                <button type="button" onClick={() => void act(() => api.call(m.owner ? "DELETE" : "PUT", `rooms/${room.id}/members/${m.userId}/owner`))}>
                  {m.owner ? `Remove ${s.userName(m.userId)} as owner` : `Make ${s.userName(m.userId)} owner`}
                </button>
                <button type="button" onClick={() => void act(() => api.call("DELETE", `rooms/${room.id}/members/${m.userId}`))}>
                  Remove {s.userName(m.userId)}
                </button>
              </>
            )}
          </li>
        ))}
      </ul>
      {owner && named && (
        <form onSubmit={(e) => {
          e.preventDefault();
          void act(async () => {
            for (const p of adding) await api.call("POST", `rooms/${room.id}/members`, { userId: p.id, owner: false, historyCleared: false });
            setAdding([]);
          }, "Members added");
        }}>
          <PeoplePicker chosen={adding} onChange={setAdding} exclude={(room.members ?? []).map((m) => m.userId)} />
          <button type="submit" disabled={!adding.length}>Add members</button>
        </form>
      )}
      <h3>For me</h3>
      <div class="row">
        <button type="button" onClick={() => void act(() => api.call(muted ? "DELETE" : "PUT", `rooms/${room.id}/mute`))}>{muted ? "Unmute" : "Mute"}</button>
        <button type="button" onClick={() => confirm("Clear the history for you?") && void act(() => api.call("PUT", `rooms/${room.id}/clear`), "History cleared")}>Clear history</button>
        {named && <button type="button" onClick={() => confirm("Leave this room?") && void act(() => api.call("DELETE", `rooms/${room.id}/members/${me}`))}>Leave</button>}
        {owner && <button type="button" class="danger" onClick={() => confirm("Delete this room for everyone?") && void act(() => api.call("DELETE", `rooms/${room.id}`))}>Delete room</button>}
      </div>
    </Dialog>
  );
}
