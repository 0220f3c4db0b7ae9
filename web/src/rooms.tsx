import { useRef, useState } from "preact/hooks";
import * as api from "./api";
import type { Room, User } from "./api";
import { store, useStore } from "./store";
import { Avatar, Dialog } from "./widgets";

function RoomLink({ room }: { room: Room }) {
  const s = useStore();
  const unread = s.unread[room.id] ?? 0;
  const muted = room.userSettings?.muted;
  const other = room.type === "one_to_one" ? s.otherMember(room) : undefined;
  return (
    <a href={`#/room/${room.id}`} class="roomlink" aria-current={s.openRoomId === room.id ? "page" : undefined}>
      {other ? <Avatar userId={other} /> : <Avatar roomId={room.id} name={s.displayName(room)} />}
      <span class="roomname">{s.displayName(room)}</span>
      {muted && <span class="muted">(muted)</span>}
      {unread > 0 && <span class="badge">{unread} unread</span>}
    </a>
  );
}

let saving: Promise<unknown> = Promise.resolve();

/** Moves `room` one place up or down among `siblings` and saves every rank (1 = first).
 * The new order shows at once, from the ranks as they are now (a second click before the list
 * is drawn again moves on from the first), and goes back if the server refuses it. */
async function move(siblings: Room[], room: Room, step: -1 | 1, path: string): Promise<void> {
  const order = [...siblings].sort((a, b) => (a.rank ?? 0) - (b.rank ?? 0));
  const at = order.indexOf(room);
  const to = at + step;
  if (to < 0 || to >= order.length) return;
  [order[at], order[to]] = [order[to]!, order[at]!];
  const before = order.map((r) => r.rank);
  order.forEach((r, i) => (r.rank = i + 1));
  store.changed();
  const ranks = order.map((r, i) => ({ roomId: r.id, rank: i + 1 }));
  // One save at a time, in the order of the clicks: the last order is the one kept.
  const saved = saving.then(() => api.call("PUT", path, ranks));
  saving = saved.catch(() => undefined);
  try {
    await saved;
  } catch (e) {
    order.forEach((r, i) => (r.rank = before[i]));
    store.changed();
    throw e;
  }
}

function MoveButtons({ siblings, room, path }: { siblings: Room[]; room: Room; path: string }) {
  const name = store.displayName(room);
  const at = siblings.indexOf(room);
  const go = (step: -1 | 1) => move(siblings, room, step, path).catch((e) => store.fail(e));
  return (
    <span class="move">
      <button type="button" class="tiny" aria-label={`Move ${name} up`} disabled={at === 0} onClick={() => void go(-1)}>↑</button>
      <button type="button" class="tiny" aria-label={`Move ${name} down`} disabled={at === siblings.length - 1} onClick={() => void go(1)}>↓</button>
    </span>
  );
}

export function RoomList() {
  const s = useStore();
  const [dialog, setDialog] = useState<null | "chat" | "workspace" | { channelOf: string }>(null);
  const rooms = [...s.rooms.values()];
  const byName = (a: Room, b: Room) => s.displayName(a).localeCompare(s.displayName(b));
  const chats = rooms.filter((r) => r.type === "group" || r.type === "one_to_one" || r.type === "temporary").sort(byName);
  const workspaces = rooms.filter((r) => r.type === "workspace").sort((a, b) => (a.rank ?? 0) - (b.rank ?? 0) || byName(a, b));
  return (
    <nav aria-label="Rooms" class="roomlist">
      <div class="actions">
        <button type="button" onClick={() => setDialog("chat")}>New chat</button>
        <button type="button" onClick={() => setDialog("workspace")}>New workspace</button>
      </div>
      <h2>Chats</h2>
      <ul>
        {chats.map((room) => (
          <li key={room.id}><RoomLink room={room} /></li>
        ))}
      </ul>
      {workspaces.length > 0 && <h2>Workspaces</h2>}
      <ul>
        {workspaces.map((ws) => {
          const channels = rooms.filter((r) => r.type === "channel" && r.parentId === ws.id).sort((a, b) => (a.rank ?? 0) - (b.rank ?? 0));
          return (
          <li key={ws.id}>
            <div class="ranked">
              <RoomLink room={ws} />
              <MoveButtons siblings={workspaces} room={ws} path="rooms/workspaces/rank" />
            </div>
            <ul class="channels">
              {channels.map((ch) => (
                <li key={ch.id} class="ranked">
                  <RoomLink room={ch} />
                  <MoveButtons siblings={channels} room={ch} path={`rooms/workspaces/${ws.id}/channels/rank`} />
                </li>
              ))}
            </ul>
            <button type="button" class="small" onClick={() => setDialog({ channelOf: ws.id })} aria-label={`New channel in ${s.displayName(ws)}`}>
              + Channel
            </button>
          </li>
          );
        })}
      </ul>
      {dialog === "chat" && <NewChat onClose={() => setDialog(null)} />}
      {dialog === "workspace" && <NewNamedRoom title="New workspace" type="workspace" onClose={() => setDialog(null)} />}
      {dialog && typeof dialog === "object" && (
        <NewNamedRoom title="New channel" type="channel" parentId={dialog.channelOf} onClose={() => setDialog(null)} />
      )}
    </nav>
  );
}

/** Finds people by name or email (the /ext/users extension). */
export function PeoplePicker({ chosen, onChange, exclude = [] }: { chosen: User[]; onChange: (people: User[]) => void; exclude?: string[] }) {
  const [query, setQuery] = useState("");
  const [found, setFound] = useState<User[]>([]);
  const [message, setMessage] = useState<string | null>(null);
  // Answers can come back out of order while a person types: only the latest search counts.
  const latest = useRef(0);
  async function search(text: string) {
    setQuery(text);
    const asked = ++latest.current;
    if (!text.trim()) return setFound([]);
    try {
      const people = await api.findPeople(text);
      if (asked !== latest.current) return;
      const hidden = new Set([...exclude, store.me?.id, ...chosen.map((p) => p.id)]);
      const shown = people.filter((p) => !hidden.has(p.id));
      setFound(shown);
      setMessage(shown.length ? null : "Nobody found");
    } catch (e) {
      if (asked === latest.current) setMessage((e as Error).message);
    }
  }
  return (
    <div class="picker">
      <label>
        Find people
        <input type="search" value={query} placeholder="Name or email" onInput={(e) => void search(e.currentTarget.value)} />
      </label>
      {message && <p role="status">{message}</p>}
      <ul aria-label="People found">
        {found.map((person) => (
          <li key={person.id}>
            <button
              type="button"
              onClick={() => {
                store.users.set(person.id, store.users.get(person.id) ?? person);
                onChange([...chosen, person]);
                setFound(found.filter((p) => p.id !== person.id));
              }}
            >
              Add {person.name} ({person.email})
            </button>
          </li>
        ))}
      </ul>
      {chosen.length > 0 && (
        <ul aria-label="Chosen people" class="chips">
          {chosen.map((person) => (
            <li key={person.id}>
              {person.name}{" "}
              <button type="button" aria-label={`Remove ${person.name}`} onClick={() => onChange(chosen.filter((p) => p.id !== person.id))}>×</button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function NewChat({ onClose }: { onClose: () => void }) {
  const [people, setPeople] = useState<User[]>([]);
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const group = people.length > 1; // the API wants 3 members for a group, creator included
  async function start(event: Event) {
    event.preventDefault();
    setError(null);
    try {
      if (!group) {
        const other = people[0]!.id;
        const existing = [...store.rooms.values()].find((r) => r.type === "one_to_one" && store.otherMember(r) === other);
        if (existing) {
          location.hash = `#/room/${existing.id}`;
          return onClose();
        }
      }
      const body = group
        ? { type: "group", name: name.trim() || people.map((p) => p.name).join(", ").slice(0, 128), description: "", membersIds: people.map((p) => p.id) }
        : { type: "one_to_one", membersIds: [people[0]!.id] };
      const room = await api.call<{ id: string }>("POST", "rooms", body);
      location.hash = `#/room/${room.id}`;
      onClose();
    } catch (e) {
      setError((e as Error).message);
    }
  }
  return (
    <Dialog title="New chat" onClose={onClose}>
      <form onSubmit={start}>
        <PeoplePicker chosen={people} onChange={setPeople} />
        {group && (
          <label>
            Group name
            <input value={name} maxLength={128} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
        )}
        {error && <p role="alert" class="error">{error}</p>}
        <button type="submit" disabled={!people.length}>{group ? "Start group" : "Start chat"}</button>
      </form>
    </Dialog>
  );
}

function NewNamedRoom({ title, type, parentId, onClose }: { title: string; type: "workspace" | "channel"; parentId?: string; onClose: () => void }) {
  const [name, setName] = useState("");
  const [people, setPeople] = useState<User[]>([]);
  const [error, setError] = useState<string | null>(null);
  async function create(event: Event) {
    event.preventDefault();
    try {
      // A channel's members are its workspace's; a workspace is made with its members.
      const body = type === "channel" ? { type, name, description: "", parentId } : { type, name, description: "", membersIds: people.map((p) => p.id) };
      const room = await api.call<{ id: string }>("POST", "rooms", body);
      location.hash = `#/room/${room.id}`;
      onClose();
    } catch (e) {
      setError((e as Error).message);
    }
  }
  return (
    <Dialog title={title} onClose={onClose}>
      <form onSubmit={create}>
        <label>
          Name
          <input required maxLength={128} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        {type === "workspace" && <PeoplePicker chosen={people} onChange={setPeople} />}
        {error && <p role="alert" class="error">{error}</p>}
        <button type="submit">Create</button>
      </form>
    </Dialog>
  );
}
