// The room's layout: recomputed from its publishers (in joining order, with their pictures'
// shapes), its settings and the recent speakers, then applied: tiles to the mixer, to each
// publisher's decoder the simulcast layer its tile needs, and `layout-changed` when it changed.

import { computeLayout, type LayoutOut } from '../../pipeline/layout/layouts.ts';
import type { Rect, Size } from '../../pipeline/layout/geometry.ts';
import { tileDemands } from '../../pipeline/simulcast.ts';
import type { RoomSettings } from '../../pipeline/room/settings.ts';
import type { Participant, RoomEvent } from './types.ts';

export interface LayoutTargets {
  /** Where each shown participant's picture goes (absent: hidden). */
  setTiles(tiles: ReadonlyMap<string, { rect: Rect; crop?: Rect | null }>): void;
  publish(e: Omit<RoomEvent, 'at'>): void;
}

export class RoomLayout {
  current: LayoutOut;

  constructor(kind: RoomSettings['layout'], private readonly canvas: Size, private readonly slotSize: Size, private readonly targets: LayoutTargets) {
    this.current = { kind, canvas, tiles: [] };
  }

  update(participants: ReadonlyMap<string, Participant>, settings: RoomSettings, speakers: { recent(): string[]; current: string | null }): void {
    const before = JSON.stringify(this.current);
    const ids = [...participants.values()].sort((a, b) => a.joinedAt - b.joinedAt).map((p) => p.id);
    this.current = computeLayout({
      kind: settings.layout,
      fit: settings.fit,
      canvas: this.canvas,
      source: this.slotSize,
      participants: ids,
      recentSpeakers: speakers.recent(),
      content: new Map([...participants.values()].filter((p) => p.content).map((p) => [p.id, p.content!])),
      activeSpeaker: speakers.current,
      pinned: settings.pinned,
    });
    this.targets.setTiles(new Map(this.current.tiles.map((t) => [t.participantId, { rect: t.video, crop: t.crop }])));
    // Each publisher decodes the simulcast layer its tile needs (no-op without simulcast).
    const demands = tileDemands(this.current.tiles, participants.keys(), (id) => participants.get(id)?.content ?? null, this.slotSize);
    for (const [id, size] of demands) participants.get(id)?.ingest.setTile(size);
    if (JSON.stringify(this.current) !== before) {
      this.targets.publish({ type: 'layout-changed', layout: this.current.kind, fit: settings.fit, pinned: settings.pinned, tiles: this.current.tiles });
    }
  }
}
