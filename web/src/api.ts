// HTTP to wschats: the Chats API (cookie authentication) and the `/ext/` extensions.

const meta = document.querySelector('meta[name="wsc-base"]')?.getAttribute("content");
/** Where wschats is mounted, ending with "/": WSC_BASE_PATH injected by the server. */
export const BASE = meta && !meta.includes("__WSC_BASE__") ? meta : "/";

export function url(path: string): string {
  return BASE + path.replace(/^\//, "");
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let queueId: string | null = null;
export function setQueueId(value: string | null): void {
  queueId = value;
}

async function failure(response: Response): Promise<ApiError> {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && typeof body.message === "string") message = body.message;
  } catch {
    /* not JSON: keep the status line */
  }
  return new ApiError(response.status, message);
}

export async function call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (queueId) headers["queue-id"] = queueId;
  let response: Response;
  try {
    response = await fetch(url(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError(0, "The server cannot be reached");
  }
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return undefined as T;
  const type = response.headers.get("content-type") ?? "";
  return (type.includes("json") ? await response.json() : undefined) as T;
}

/** Every UTF-16 code unit as \uXXXX, as the upload headers expect. */
export function escapeHeader(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) out += "\\u" + text.charCodeAt(i).toString(16).padStart(4, "0");
  return out;
}

export function decodeEscapes(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** A binary upload with progress (fetch reports none). Resolves when the server answered 2xx. */
export function upload(
  method: "POST" | "PUT",
  path: string,
  file: Blob,
  headers: Record<string, string>,
  onProgress?: (fraction: number) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(method, url(path));
    for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
    if (queueId) request.setRequestHeader("session-id", queueId);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
    };
    request.onload = () => {
      if (request.status >= 200 && request.status < 300) return resolve();
      let message = `Upload failed (${request.status})`;
      try {
        message = JSON.parse(request.responseText).message ?? message;
      } catch {
        /* keep the status */
      }
      reject(new ApiError(request.status, message));
    };
    request.onerror = () => reject(new ApiError(0, "The upload was interrupted"));
    request.send(file);
  });
}

// ---------------------------------------------------------------- shapes the client reads

export interface Member {
  userId: string;
  owner: boolean;
}
export interface Room {
  id: string;
  name?: string | null;
  description?: string | null;
  type: "group" | "one_to_one" | "workspace" | "channel" | "temporary";
  createdAt: string;
  parentId?: string | null;
  rank?: number | null;
  pictureUpdatedAt?: string | null;
  members?: Member[];
  userSettings?: { muted: boolean; clearedAt?: string | null };
  children?: Room[];
}
export interface User {
  id: string;
  email: string;
  name: string;
  pictureUpdatedAt?: string | null;
}
export interface ClientConfig {
  userId: string;
  xmppWebsocketUrl: string | null;
  xmppDomain: string;
  xmppMucService: string;
  jid: string | null;
  messagingUnavailableReason: string | null;
  peopleSearch: "name-or-email" | "user-id";
}

export const listRooms = () => call<Room[]>("GET", "rooms?extraFields=members&extraFields=settings");
export const getRoom = (id: string) => call<Room>("GET", `rooms/${id}`);
export const roomMembers = (id: string) => call<Member[]>("GET", `rooms/${id}/members`);
export const findPeople = (query: string) =>
  call<User[]>("GET", `ext/users?query=${encodeURIComponent(query)}&limit=10`);
export const clientConfig = () => call<ClientConfig>("GET", "ext/client-config");
