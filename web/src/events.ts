// The `/events` websocket: the room list follows it. Reconnects with a growing delay and tells
// the caller when it is back, so the caller can catch up on what it missed.
import { BASE, setQueueId } from "./api";

export type ServerEvent = { type: string; [field: string]: unknown };

export class EventSocket {
  private socket: WebSocket | null = null;
  private attempts = 0;
  private stopped = false;
  private ping: number | undefined;
  private retry: number | undefined;

  constructor(
    private readonly onEvent: (event: ServerEvent) => void,
    private readonly onState: (connected: boolean, reconnected: boolean) => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.open(false);
  }

  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.retry);
    window.clearInterval(this.ping);
    this.socket?.close();
    this.socket = null;
    setQueueId(null);
  }

  /** Try again now, e.g. when the browser says it is online again. */
  kick(): void {
    if (this.stopped || this.socket?.readyState === WebSocket.OPEN) return;
    window.clearTimeout(this.retry);
    this.attempts = 0;
    this.open(true);
  }

  private open(reconnecting: boolean): void {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${BASE}events`);
    this.socket = socket;
    let pongDue = 0;
    socket.onmessage = (message) => {
      let event: ServerEvent;
      try {
        event = JSON.parse(String(message.data));
      } catch {
        return;
      }
      if (event.type === "websocketConnected") {
        setQueueId(String(event.queueId));
        this.attempts = 0;
        this.onState(true, reconnecting);
        return;
      }
      if (event.type === "pong") {
        pongDue = 0;
        return;
      }
      this.onEvent(event);
    };
    socket.onopen = () => {
      window.clearInterval(this.ping);
      this.ping = window.setInterval(() => {
        if (pongDue && Date.now() > pongDue) return socket.close();
        socket.send(JSON.stringify({ type: "ping" }));
        pongDue = Date.now() + 10_000;
      }, 20_000);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      window.clearInterval(this.ping);
      setQueueId(null);
      this.onState(false, false);
      if (this.stopped) return;
      const delay = Math.min(500 * 2 ** this.attempts, 10_000);
      this.attempts += 1;
      this.retry = window.setTimeout(() => this.open(true), delay);
    };
  }
}
