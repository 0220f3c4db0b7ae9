// Messages over XMPP (RFC 7395 websocket) to ejabberd. Rooms are MUC rooms where members are
// MUC/Sub subscribers with nick = their bare JID: live messages arrive wrapped in pubsub
// events, history comes from the room's MAM archive.
import { client, xml, type Client, type Element } from "@xmpp/client";
import { decodeEscapes } from "./api";

const CONFIG_NS = "urn:xmpp:muclight:0#configuration";
const MAM_NS = "urn:xmpp:mam:2";
const MUCSUB_MESSAGES = "urn:xmpp:mucsub:nodes:messages";

export interface Attachment {
  id: string;
  name: string;
  mimeType: string;
  size: number;
  area?: string;
}

export interface ChatMessage {
  id: string; // the sender's id attribute
  archiveId?: string; // the room archive's stanza-id, what replies and forwards point at
  roomId: string;
  senderId: string;
  time: Date;
  body: string;
  operation?: string; // a configuration (system) message
  value?: string;
  attachment?: Attachment;
  replyTo?: string;
  forwardedFrom?: { senderId: string; time: Date };
  xml: string; // the message as archived, forwarded as is
}

function nodeOf(jid: string | undefined): string {
  return (jid ?? "").split("@")[0];
}

/** Reads a room message; null for anything that is not one (chat states, markers...). */
export function parseMessage(message: Element, stamp?: string, archiveId?: string): ChatMessage | null {
  const from = message.attrs.from ?? "";
  const slash = from.indexOf("/");
  if (slash < 0) return null;
  const roomId = nodeOf(from.slice(0, slash));
  const senderId = nodeOf(from.slice(slash + 1));
  const stanzaId = message.getChild("stanza-id", "urn:xmpp:sid:0")?.attrs.id;
  const delay = message.getChild("delay", "urn:xmpp:delay")?.attrs.stamp;
  const base = {
    id: message.attrs.id ?? stanzaId ?? archiveId ?? crypto.randomUUID(),
    archiveId: archiveId ?? stanzaId,
    roomId,
    senderId,
    time: new Date(stamp ?? delay ?? Date.now()),
    xml: message.toString(),
  };
  const config = message.getChildren("x").find((x) => x.attrs.xmlns === CONFIG_NS);
  const body = message.getChildText("body") ?? "";
  if (config) {
    const operation = config.getChildText("operation") ?? "";
    if (operation === "attachmentAdded") {
      return {
        ...base,
        body: decodeEscapes(body),
        attachment: {
          id: config.getChildText("attachment-id") ?? "",
          name: decodeEscapes(config.getChildText("filename") ?? "file"),
          mimeType: config.getChildText("mime-type") ?? "",
          size: Number(config.getChildText("size") ?? 0),
          area: config.getChildText("area") ?? undefined,
        },
        replyTo: message.getChild("reply", "urn:xmpp:reply:0")?.attrs.id,
      };
    }
    const raw = config.getChildText("value") ?? config.getChildText("picture-name") ?? config.getChildText("user-id") ?? "";
    return { ...base, body: "", operation, value: operation.startsWith("member") ? raw : decodeEscapes(raw) };
  }
  if (message.getChild("body") === undefined) return null;
  const forwarded = message.getChild("forwarded", "urn:xmpp:forward:0");
  if (forwarded) {
    const inner = forwarded.getChild("message");
    const innerFrom = inner?.attrs.from ?? "";
    return {
      ...base,
      body: decodeEscapes(inner?.getChildText("body") ?? body),
      forwardedFrom: {
        senderId: nodeOf(innerFrom.includes("/") ? innerFrom.slice(innerFrom.indexOf("/") + 1) : innerFrom),
        time: new Date(forwarded.getChild("delay", "urn:xmpp:delay")?.attrs.stamp ?? base.time),
      },
    };
  }
  return { ...base, body, replyTo: message.getChild("reply", "urn:xmpp:reply:0")?.attrs.id };
}

export interface HistoryPage {
  messages: ChatMessage[];
  complete: boolean;
  first?: string;
}

export class Chat {
  private xmpp: Client | null = null;
  private collectors = new Map<string, ChatMessage[]>();
  private everOnline = false;
  private outbox: Element[] = []; // written while the connection was down, sent once it is up

  constructor(
    private readonly websocketUrl: string,
    private readonly domain: string,
    private readonly mucService: string,
    private readonly userId: string,
    private readonly password: string,
    private readonly onMessage: (message: ChatMessage) => void,
    private readonly onState: (online: boolean, reconnected: boolean) => void,
  ) {}

  roomJid(roomId: string): string {
    return `${roomId}@${this.mucService}`;
  }

  start(): void {
    const username = this.userId;
    const password = this.password;
    const xmpp = client({
      service: this.websocketUrl,
      domain: this.domain,
      // ejabberd checks tokens through external auth, which only offers PLAIN; @xmpp/client
      // avoids PLAIN on a non-TLS socket (local ws://), so the mechanism is chosen here.
      credentials: async (authenticate: (c: object, m: string) => Promise<void>, mechanisms: string[]) =>
        authenticate({ username, password }, mechanisms.includes("PLAIN") ? "PLAIN" : mechanisms[0]),
    });
    this.xmpp = xmpp;
    xmpp.reconnect.delay = 1000;
    xmpp.on("error", () => {
      /* reported through the status; the reconnect module tries again */
    });
    xmpp.on("offline", () => this.onState(false, false));
    xmpp.on("disconnect", () => this.onState(false, false));
    xmpp.on("online", () => {
      const again = this.everOnline;
      this.everOnline = true;
      void xmpp.send(xml("presence"));
      const queued = this.outbox.splice(0);
      for (const stanza of queued) void xmpp.send(stanza);
      this.onState(true, again);
    });
    xmpp.on("stanza", (stanza) => this.receive(stanza));
    xmpp.start().catch(() => this.onState(false, false));
  }

  async stop(): Promise<void> {
    const xmpp = this.xmpp;
    this.xmpp = null;
    if (!xmpp) return;
    xmpp.reconnect.stop();
    try {
      await xmpp.stop();
    } catch {
      /* already down */
    }
  }

  private receive(stanza: Element): void {
    if (!stanza.is("message")) return;
    const result = stanza.getChild("result", MAM_NS);
    if (result) {
      const forwarded = result.getChild("forwarded", "urn:xmpp:forward:0");
      const inner = forwarded?.getChild("message");
      const stamp = forwarded?.getChild("delay", "urn:xmpp:delay")?.attrs.stamp;
      const parsed = inner ? parseMessage(inner, stamp, result.attrs.id) : null;
      if (parsed) this.collectors.get(result.attrs.queryid ?? "")?.push(parsed);
      return;
    }
    const items = stanza.getChild("event", "http://jabber.org/protocol/pubsub#event")?.getChild("items");
    if (items && items.attrs.node === MUCSUB_MESSAGES) {
      // Held for an offline subscriber: the wrapper's delay says when it was sent.
      const stamp = stanza.getChild("delay", "urn:xmpp:delay")?.attrs.stamp;
      for (const item of items.getChildren("item")) {
        const inner = item.getChild("message");
        const parsed = inner ? parseMessage(inner, stamp, item.attrs.id) : null;
        if (parsed) this.onMessage(parsed);
      }
      return;
    }
    if (stanza.attrs.type === "groupchat") {
      const parsed = parseMessage(stanza);
      if (parsed) this.onMessage(parsed);
    }
  }

  /** One page of a room's archive, newest last, ending before `before` (an archive id). */
  async history(roomId: string, before: string | null, max: number, since?: string | null): Promise<HistoryPage> {
    const xmpp = this.requireOnline();
    const queryid = crypto.randomUUID();
    const collected: ChatMessage[] = [];
    this.collectors.set(queryid, collected);
    const form = since
      ? xml(
          "x",
          { xmlns: "jabber:x:data", type: "submit" },
          xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, MAM_NS)),
          xml("field", { var: "start" }, xml("value", {}, since)),
        )
      : null;
    try {
      const answer = await xmpp.iqCaller.request(
        xml(
          "iq",
          { type: "set", to: this.roomJid(roomId) },
          xml(
            "query",
            { xmlns: MAM_NS, queryid },
            form,
            xml("set", { xmlns: "http://jabber.org/protocol/rsm" }, xml("max", {}, String(max)), xml("before", {}, before ?? "")),
          ),
        ),
        30_000,
      );
      const fin = answer.getChild("fin", MAM_NS);
      return {
        messages: collected,
        complete: fin?.attrs.complete === "true" || collected.length < max,
        first: fin?.getChild("set")?.getChildText("first") ?? undefined,
      };
    } finally {
      this.collectors.delete(queryid);
    }
  }

  /** Sends now, or as soon as the connection is back. */
  async send(roomId: string, body: string, replyTo?: ChatMessage): Promise<string> {
    if (!this.xmpp) throw new Error("Not connected to the chat server");
    const id = crypto.randomUUID();
    const stanza = xml(
        "message",
        { type: "groupchat", to: this.roomJid(roomId), id },
        xml("body", {}, body),
        replyTo?.archiveId
          ? xml("reply", { xmlns: "urn:xmpp:reply:0", id: replyTo.archiveId, to: `${replyTo.senderId}@${this.domain}` })
          : null,
        xml("markable", { xmlns: "urn:xmpp:chat-markers:0" }),
    );
    if (this.xmpp.status === "online") await this.xmpp.send(stanza);
    else this.outbox.push(stanza);
    return id;
  }

  private requireOnline(): Client {
    if (!this.xmpp || this.xmpp.status !== "online") throw new Error("Not connected to the chat server");
    return this.xmpp;
  }
}
