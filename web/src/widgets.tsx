import { useRef, useState } from "preact/hooks";
import { upload, url, escapeHeader } from "./api";
import { store, useStore } from "./store";

function initials(name: string): string {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0]!.toUpperCase()).join("") || "?";
}

export function Avatar({ userId, roomId, name }: { userId?: string; roomId?: string; name?: string }) {
  const s = useStore();
  let src: string | null = null;
  let label = name ?? "";
  if (userId) {
    const user = s.users.get(userId);
    label = user?.name ?? label;
    if (user?.pictureUpdatedAt) src = url(`users/${userId}/picture?${encodeURIComponent(user.pictureUpdatedAt)}`);
  } else if (roomId) {
    const room = s.rooms.get(roomId);
    if (room?.pictureUpdatedAt) src = url(`rooms/${roomId}/picture?${encodeURIComponent(room.pictureUpdatedAt)}`);
  }
  return src ? <img class="avatar" src={src} alt="" /> : <span class="avatar" aria-hidden="true">{initials(label)}</span>;
}

/** A file input wrapped in a label that looks like a button. */
export function FileButton({ label, accept, multiple, onFiles }: { label: string; accept?: string; multiple?: boolean; onFiles: (files: File[]) => void }) {
  return (
    <label class="filebutton">
      {label}
      <input
        type="file"
        class="visually-hidden"
        accept={accept}
        multiple={multiple}
        onChange={(e) => {
          const files = [...(e.currentTarget.files ?? [])];
          e.currentTarget.value = "";
          if (files.length) onFiles(files);
        }}
      />
    </label>
  );
}

export function ProfilePicture() {
  const [busy, setBusy] = useState(false);
  async function change(files: File[]) {
    const me = store.me;
    if (!me) return;
    setBusy(true);
    try {
      await upload("PUT", `users/${me.id}/picture`, files[0]!, { fileName: escapeHeader(files[0]!.name), mimeType: files[0]!.type });
      // Shown at once: USER_PICTURE_CHANGED reaches only people who share a room, so a person
      // in no room yet would not see their own new picture.
      const mine = store.users.get(me.id) ?? me;
      mine.pictureUpdatedAt = me.pictureUpdatedAt = new Date().toISOString();
      store.changed();
    } catch (e) {
      store.fail(e);
    } finally {
      setBusy(false);
    }
  }
  return busy ? <span role="status">Uploading…</span> : <FileButton label="Profile picture" accept="image/*" onFiles={(f) => void change(f)} />;
}

/** A modal dialog (native <dialog>: focus stays inside, Escape closes it). */
export function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: preact.ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  return (
    <dialog
      ref={(el) => {
        (ref as { current: HTMLDialogElement | null }).current = el;
        if (el && !el.open) el.showModal();
      }}
      aria-label={title}
      onClose={onClose}
      onCancel={onClose}
    >
      <header class="dialoghead">
        <h2>{title}</h2>
        <button type="button" onClick={onClose}>Close</button>
      </header>
      {children}
    </dialog>
  );
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
