// Client state and what changes it: HTTP answers, `/events` frames and XMPP messages.
import { useEffect, useState } from "preact/hooks";
import * as api from "./api";
import type { ClientConfig, Room, User } from "./api";
import { Chat, type ChatMessage } from "./chat";
import { EventSocket, type ServerEvent } from "./events";

export interface Timeline {
  messages: ChatMessage[];
  complete: boolean;
  loading: boolean;
  error?: string;
}

const UNREAD_KEY = "wschats.unread";

export class Store {
  me: User | null = null;
  signedIn: boolean | null = null; // null: not known yet
  config: ClientConfig | null = null;
  rooms = new Map<string, Room>();
  users = new Map<string, User>();
  unread: Record<string, number> = {};
  timelines = new Map<string, Timeline>();
  openRoomId: string | null = null;
  eventsOnline = false;
  chatOnline = false;
  chatProblem: string | null = null;
  error: string | null = null;

  /** Counts flushed changes, so that a component subscribing late sees what it missed. */
  version = 0;
  private listeners = new Set<() => void>();
  private renderPending = false;
  private unreadDirty = false;
  private events: EventSocket | null = null;
  private chat: Chat | null = null;
  private pendingUsers = new Set<string>();
  private historyRetries = new Map<string, number>();
  private userTimer: number | undefined;

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  /** Re-renders once per frame however many changes came in (a sign-in may bring thousands
   * of messages held while offline). */
  changed(): void {
    if (this.renderPending) return;
    this.renderPending = true;
    const render = () => {
      this.renderPending = false;
      this.version++;
      if (this.unreadDirty && this.config) {
        this.unreadDirty = false;
        localStorage.setItem(`${UNREAD_KEY}.${this.config.userId}`, JSON.stringify(this.unread));
      }
      for (const listener of this.listeners) listener();
    };
    if (document.hidden) window.setTimeout(render, 100);
    else requestAnimationFrame(render);
  }
  fail(error: unknown): void {
    this.error = error instanceof Error ? error.message : String(error);
    this.changed();
  }

  // ---------------------------------------------------------------- session

  async resume(): Promise<void> {
    try {
      const config = await api.clientConfig();
      await this.begin(config);
    } catch (error) {
      if (!(error instanceof api.ApiError) || error.status !== 401) this.error = (error as Error).message;
      this.signedIn = false;
      this.changed();
    }
  }

  async signIn(email: string, password: string): Promise<void> {
    await api.call("POST", "auth/login", { email, password });
    await this.begin(await api.clientConfig());
  }

  async signOut(): Promise<void> {
    try {
      await api.call("DELETE", "auth/token");
    } catch {
      /* signed out locally either way */
    }
    this.events?.stop();
    await this.chat?.stop();
    this.events = null;
    this.chat = null;
    this.me = null;
    this.config = null;
    this.rooms.clear();
    this.timelines.clear();
    this.openRoomId = null;
    this.signedIn = false;
    location.hash = "";
    this.changed();
  }

  private async begin(config: ClientConfig): Promise<void> {
    this.config = config;
    this.unread = JSON.parse(localStorage.getItem(`${UNREAD_KEY}.${config.userId}`) ?? "{}");
    const [users, rooms] = await Promise.all([
      api.call<User[]>("GET", `users?userIds=${config.userId}`),
      api.listRooms(),
    ]);
    this.me = users[0] ?? { id: config.userId, email: "", name: "" };
    this.users.set(this.me.id, this.me);
    this.setRooms(rooms);
    this.signedIn = true;
    this.error = null;
    this.changed();
    this.events = new EventSocket(
      (event) => void this.onEvent(event),
      (online, reconnected) => {
        this.eventsOnline = online;
        if (reconnected) void this.catchUp();
        this.changed();
      },
    );
    this.events.start();
    window.addEventListener("online", this.onNetworkBack);
    if (config.xmppWebsocketUrl) {
      const token = (await api.call<{ zmToken: string }>("GET", "auth/token")).zmToken;
      this.chat = new Chat(
        config.xmppWebsocketUrl,
        config.xmppDomain,
        config.xmppMucService,
        config.userId,
        token,
        (message) => this.onChatMessage(message),
        (online, reconnected) => {
          this.chatOnline = online;
          this.chatProblem = online ? null : "Connecting to the chat server…";
          this.changed();
          if (online && (reconnected || this.openRoomId)) void this.refreshOpenRoom();
        },
      );
      this.chatProblem = "Connecting to the chat server…";
      this.chat.start();
    }
  }

  private onNetworkBack = (): void => {
    this.events?.kick();
  };

  /** After the events socket was away: what changed meanwhile is read again. */
  private async catchUp(): Promise<void> {
    try {
      this.setRooms(await api.listRooms());
      this.changed();
    } catch (error) {
      this.fail(error);
    }
  }

  // ---------------------------------------------------------------- rooms

  private setRooms(rooms: Room[]): void {
    this.rooms.clear();
    for (const room of rooms) {
      this.rooms.set(room.id, room);
      for (const child of room.children ?? []) this.rooms.set(child.id, { ...child, parentId: room.id });
    }
    for (const room of this.rooms.values()) for (const m of room.members ?? []) this.wantUser(m.userId);
  }

  private async loadRoom(roomId: string): Promise<void> {
    const room = await api.getRoom(roomId);
    if (!room.members) room.members = await api.roomMembers(roomId);
    const known = this.rooms.get(roomId);
    this.rooms.set(roomId, { ...known, ...room, userSettings: room.userSettings ?? known?.userSettings });
    for (const m of room.members) this.wantUser(m.userId);
    this.changed();
  }

  otherMember(room: Room): string | undefined {
    return room.members?.find((m) => m.userId !== this.me?.id)?.userId;
  }

  displayName(room: Room): string {
    if (room.type === "one_to_one") {
      const other = this.otherMember(room);
      return (other && this.users.get(other)?.name) || "Direct chat";
    }
    return room.name || "Unnamed room";
  }

  userName(userId: string): string {
    if (userId === this.me?.id) return this.me.name || "You";
    return this.users.get(userId)?.name ?? "Someone";
  }

  wantUser(userId: string): void {
    if (this.users.has(userId) || this.pendingUsers.has(userId)) return;
    this.pendingUsers.add(userId);
    window.clearTimeout(this.userTimer);
    this.userTimer = window.setTimeout(() => void this.fetchUsers(), 30);
  }

  private async fetchUsers(): Promise<void> {
    const ids = [...this.pendingUsers];
    this.pendingUsers.clear();
    for (let i = 0; i < ids.length; i += 10) {
      const batch = ids.slice(i, i + 10);
      try {
        const users = await api.call<User[]>("GET", "users?" + batch.map((id) => `userIds=${id}`).join("&"));
        for (const user of users) this.users.set(user.id, user);
        for (const id of batch) if (!this.users.has(id)) this.users.set(id, { id, email: "", name: "Unknown user" });
      } catch {
        /* shown as "Someone"; asked again on the next mention */
      }
    }
    this.changed();
  }

  private async onEvent(event: ServerEvent): Promise<void> {
    const roomId = String(event.roomId ?? "");
    const room = this.rooms.get(roomId);
    const me = this.me?.id;
    switch (event.type) {
      case "ROOM_CREATED":
        return this.loadRoom(roomId).catch((e) => this.fail(e));
      case "ROOM_MEMBER_ADDED":
        if (event.userId === me) return this.loadRoom(roomId).catch((e) => this.fail(e));
        if (room && !room.members?.some((m) => m.userId === event.userId)) {
          room.members = [...(room.members ?? []), { userId: String(event.userId), owner: Boolean(event.isOwner) }];
          this.wantUser(String(event.userId));
        }
        break;
      case "ROOM_MEMBER_REMOVED":
        if (event.userId === me) this.dropRoom(roomId);
        else if (room) room.members = room.members?.filter((m) => m.userId !== event.userId);
        break;
      case "ROOM_DELETED":
        this.dropRoom(roomId);
        break;
      case "ROOM_UPDATED":
        if (room) Object.assign(room, { name: event.name ?? room.name, description: event.description ?? room.description });
        break;
      case "ROOM_OWNER_PROMOTED":
      case "ROOM_OWNER_DEMOTED":
        for (const m of room?.members ?? []) if (m.userId === event.userId) m.owner = event.type === "ROOM_OWNER_PROMOTED";
        break;
      case "ROOM_PICTURE_CHANGED":
        if (room) room.pictureUpdatedAt = String(event.updatedAt ?? event.sentDate ?? Date.now());
        break;
      case "ROOM_PICTURE_DELETED":
        if (room) room.pictureUpdatedAt = null;
        break;
      case "ROOM_MUTED":
      case "ROOM_UNMUTED":
        if (room) room.userSettings = { ...room.userSettings, muted: event.type === "ROOM_MUTED" };
        break;
      case "ROOM_HISTORY_CLEARED":
        if (room) {
          room.userSettings = { muted: room.userSettings?.muted ?? false, clearedAt: String(event.clearedAt) };
          this.timelines.delete(roomId);
          this.setUnread(roomId, 0);
          if (this.openRoomId === roomId) void this.loadHistory(roomId);
        }
        break;
      case "USER_PICTURE_CHANGED":
      case "USER_PICTURE_DELETED": {
        const user = this.users.get(String(event.userId));
        if (user) user.pictureUpdatedAt = event.type === "USER_PICTURE_CHANGED" ? String(event.sentDate ?? Date.now()) : null;
        break;
      }
      default:
        return;
    }
    this.changed();
  }

  private dropRoom(roomId: string): void {
    this.rooms.delete(roomId);
    this.timelines.delete(roomId);
    for (const room of [...this.rooms.values()]) if (room.parentId === roomId) this.rooms.delete(room.id);
    if (this.openRoomId === roomId) location.hash = "";
  }

  // ---------------------------------------------------------------- messages

  private setUnread(roomId: string, count: number): void {
    if (count) this.unread[roomId] = count;
    else delete this.unread[roomId];
    this.unreadDirty = true;
  }

  private onChatMessage(message: ChatMessage): void {
    const timeline = this.timelines.get(message.roomId);
    if (timeline && !timeline.messages.some((m) => same(m, message))) {
      timeline.messages = mergeByTime(timeline.messages, [message]);
    }
    this.wantUser(message.senderId);
    if (message.senderId !== this.me?.id && (this.openRoomId !== message.roomId || document.hidden)) {
      this.setUnread(message.roomId, (this.unread[message.roomId] ?? 0) + 1);
    }
    this.changed();
  }

  openRoom(roomId: string | null): void {
    this.openRoomId = roomId;
    if (roomId) {
      this.setUnread(roomId, 0);
      if (!this.timelines.has(roomId)) void this.loadHistory(roomId);
    }
    this.changed();
  }

  private lowerBound(roomId: string): string | null {
    return this.rooms.get(roomId)?.userSettings?.clearedAt ?? null;
  }

  /** The newest page, or the one before what is shown. */
  async loadHistory(roomId: string, older = false): Promise<void> {
    if (!this.chat || !this.chatOnline) return;
    const timeline = this.timelines.get(roomId) ?? { messages: [], complete: false, loading: false };
    this.timelines.set(roomId, timeline);
    if (timeline.loading || (older && timeline.complete)) return;
    timeline.loading = true;
    this.changed();
    try {
      const before = older ? (timeline.messages.find((m) => m.archiveId)?.archiveId ?? "") : "";
      const page = await this.chat.history(roomId, before || null, 50, this.lowerBound(roomId));
      for (const m of page.messages) this.wantUser(m.senderId);
      const fresh = page.messages.filter((m) => !timeline.messages.some((k) => same(k, m)));
      timeline.messages = mergeByTime(timeline.messages, fresh);
      if (older || !timeline.messages.length) timeline.complete = page.complete;
      else if (!before && timeline.messages.length <= page.messages.length) timeline.complete = page.complete;
      timeline.error = undefined;
      this.historyRetries.delete(roomId);
    } catch (error) {
      // A room just created reaches the XMPP server a moment after the API answered: retry.
      const tries = this.historyRetries.get(roomId) ?? 0;
      if (!older && tries < 5) {
        this.historyRetries.set(roomId, tries + 1);
        window.setTimeout(() => void this.loadHistory(roomId), 400 * (tries + 1));
      } else timeline.error = (error as Error).message;
    } finally {
      timeline.loading = false;
      this.changed();
    }
  }

  private async refreshOpenRoom(): Promise<void> {
    if (this.openRoomId) await this.loadHistory(this.openRoomId);
  }

  async send(roomId: string, text: string, replyTo?: ChatMessage): Promise<void> {
    if (!this.chat) throw new Error(this.config?.messagingUnavailableReason ?? "Messages are unavailable");
    await this.chat.send(roomId, text, replyTo);
  }

  messageById(roomId: string, archiveId: string): ChatMessage | undefined {
    return this.timelines.get(roomId)?.messages.find((m) => m.archiveId === archiveId);
  }
}

function same(a: ChatMessage, b: ChatMessage): boolean {
  return (a.archiveId !== undefined && a.archiveId === b.archiveId) || (a.id === b.id && a.senderId === b.senderId);
}

/** Archive order where both are archived (ejabberd's ids grow with time), else by time. */
function earlier(a: ChatMessage, b: ChatMessage): number {
  if (a.archiveId && b.archiveId && /^\d+$/.test(a.archiveId) && /^\d+$/.test(b.archiveId)) {
    return a.archiveId.length - b.archiveId.length || (a.archiveId < b.archiveId ? -1 : a.archiveId > b.archiveId ? 1 : 0);
  }
  return a.time.getTime() - b.time.getTime();
}

function mergeByTime(known: ChatMessage[], fresh: ChatMessage[]): ChatMessage[] {
  return [...known, ...fresh].sort(earlier);
}

export const store = new Store();

export function useStore(): Store {
  const [, setVersion] = useState(0);
  const renderedAt = store.version;
  useEffect(() => {
    const unsubscribe = store.subscribe(() => setVersion((v) => v + 1));
    // Effects run after paint: a change flushed between this render and now (a quick answer
    // to the first request) had no listener yet, and would leave the page on "Loading…".
    if (store.version !== renderedAt) setVersion((v) => v + 1);
    return unsubscribe;
  }, []);
  return store;
}
