// Desktop notifications and a short beep for work that arrives while the page
// is hidden. Browsers only let a page start audio after a user gesture, so the
// audio context is created (or resumed) from one: see primeSound.

let audio: AudioContext | null = null;

export function primeSound(): void {
  try {
    audio ??= new AudioContext();
    if (audio.state === "suspended") void audio.resume();
  } catch {
    audio = null; // no Web Audio here: stay silent
  }
}

export function beep(): void {
  if (audio === null || audio.state !== "running") return;
  const start = audio.currentTime;
  const tone = audio.createOscillator();
  const gain = audio.createGain();
  tone.type = "sine";
  tone.frequency.value = 880;
  gain.gain.setValueAtTime(0.0001, start);
  gain.gain.exponentialRampToValueAtTime(0.2, start + 0.01);
  gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.25);
  tone.connect(gain).connect(audio.destination);
  tone.start(start);
  tone.stop(start + 0.26);
}

export function notificationsSupported(): boolean {
  return typeof Notification !== "undefined";
}

/** Shows a desktop notification if allowed. One `tag` shows once even if several tabs send it. */
export function notify(title: string, body: string, tag: string, onClick: () => void): void {
  if (!notificationsSupported() || Notification.permission !== "granted") return;
  const notification = new Notification(title, { body, tag });
  notification.onclick = () => {
    window.focus();
    onClick();
    notification.close();
  };
}
