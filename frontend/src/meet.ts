// Ways to meet in person: a mailto: link with a subject, and a calendar invite (.ics).
import type { Profile } from "./api";

export function mailto(to: string, subject: string, body = ""): string {
  const params = [`subject=${encodeURIComponent(subject)}`];
  if (body) params.push(`body=${encodeURIComponent(body)}`);
  return `mailto:${encodeURIComponent(to).replace(/%40/g, "@")}?${params.join("&")}`;
}

const stamp = (d: Date) =>
  d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");

const escapeText = (s: string) => s.replace(/[\\;,]/g, (c) => "\\" + c).replace(/\n/g, "\\n");

/** A 30-minute coffee on the next working day at 10:00 (UTC), as a data: URL. */
export function coffeeInvite(person: Profile, summary: string, now = new Date()): string {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1, 10));
  while (start.getUTCDay() === 0 || start.getUTCDay() === 6) start.setUTCDate(start.getUTCDate() + 1);
  const end = new Date(start.getTime() + 30 * 60 * 1000);
  const lines = [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//Relais//Widget//EN",
    "METHOD:REQUEST",
    "BEGIN:VEVENT",
    `UID:relais-coffee-${person.id}-${stamp(start)}@relais`,
    `DTSTAMP:${stamp(now)}`,
    `DTSTART:${stamp(start)}`,
    `DTEND:${stamp(end)}`,
    `SUMMARY:${escapeText(summary)}`,
    ...(person.site ? [`LOCATION:${escapeText(person.site)}`] : []),
    ...(person.email ? [`ATTENDEE;CN="${person.name.replace(/"/g, "")}":mailto:${person.email}`] : []),
    "END:VEVENT",
    "END:VCALENDAR",
  ];
  return "data:text/calendar;charset=utf-8," + encodeURIComponent(lines.join("\r\n") + "\r\n");
}
