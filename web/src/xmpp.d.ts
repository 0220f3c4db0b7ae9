// @xmpp/client ships no type declarations; these cover what the client uses.
declare module "@xmpp/client" {
  export interface Element {
    name: string;
    attrs: Record<string, string | undefined>;
    children: (Element | string)[];
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    getChildElements(): Element[];
    getText(): string;
    is(name: string, xmlns?: string): boolean;
    toString(): string;
  }
  export function xml(
    name: string,
    attrs?: Record<string, string | undefined> | null,
    ...children: (Element | string | null | undefined | false)[]
  ): Element;
  export interface Client {
    on(event: "stanza", listener: (stanza: Element) => void): void;
    on(event: "online", listener: (address: unknown) => void): void;
    on(event: "offline" | "disconnect", listener: () => void): void;
    on(event: "error", listener: (error: Error) => void): void;
    on(event: "status", listener: (status: string) => void): void;
    start(): Promise<unknown>;
    stop(): Promise<void>;
    send(element: Element): Promise<void>;
    iqCaller: { request(element: Element, timeout?: number): Promise<Element> };
    reconnect: { delay: number; stop(): void; start(): void };
    status: string;
  }
  export function client(options: Record<string, unknown>): Client;
}
