import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { store, useStore } from "./store";
import { RoomList } from "./rooms";
import { RoomView } from "./room";
import { Avatar, ProfilePicture } from "./widgets";
import "./style.css";

function SignIn() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await store.signIn(email, password);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  }
  return (
    <main class="signin">
      <form onSubmit={submit}>
        <h1>wschats</h1>
        <label>
          Email
          <input type="email" autocomplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        {error && <p role="alert" class="error">{error}</p>}
        <button type="submit" disabled={busy}>Sign in</button>
      </form>
    </main>
  );
}

function roomFromHash(): string | null {
  const match = /^#\/room\/([0-9a-f-]+)$/.exec(location.hash);
  return match ? match[1] : null;
}

function Shell() {
  const s = useStore();
  useEffect(() => {
    const follow = () => store.openRoom(roomFromHash());
    follow();
    window.addEventListener("hashchange", follow);
    return () => window.removeEventListener("hashchange", follow);
  }, []);
  const me = s.me!;
  const reason = s.config?.messagingUnavailableReason;
  return (
    <div class="shell">
      <header class="top">
        <span class="brand">wschats</span>
        {!s.eventsOnline && <span role="status" class="offline">Reconnecting…</span>}
        <span class="me">
          <Avatar userId={me.id} />
          <span>{me.name}</span>
          <ProfilePicture />
          <button type="button" onClick={() => void store.signOut()}>Sign out</button>
        </span>
      </header>
      {reason && <p role="status" class="notice">{reason}</p>}
      {s.error && (
        <p role="alert" class="error banner">
          {s.error} <button type="button" onClick={() => { s.error = null; s.changed(); }}>Dismiss</button>
        </p>
      )}
      <div class="panes">
        <RoomList />
        {s.openRoomId && s.rooms.has(s.openRoomId) ? (
          <RoomView key={s.openRoomId} roomId={s.openRoomId} />
        ) : (
          <main class="empty"><p>Pick a room on the left, or start a new chat.</p></main>
        )}
      </div>
    </div>
  );
}

function App() {
  const s = useStore();
  if (s.signedIn === null) return <p class="loading">Loading…</p>;
  return s.signedIn ? <Shell /> : <SignIn />;
}

render(<App />, document.getElementById("app")!);
void store.resume();
