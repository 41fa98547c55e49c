// The arena game as the server describes it, for the page's deterministic tests: the schema
// of games/arena/src/lib.rs (`schema()`) and a game_config in the shape of
// `ArenaGame::client_config`, built from the default map and rules Rust wrote into
// vectors/messages.json. The end-to-end tests play against the real server's, so a drift
// between this copy and Rust shows up there.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { engineEvents, field } from './fakes.js';

export function arenaSchema() {
  return {
    game: 'arena',
    kinds: [
      {
        name: 'body',
        fields: [
          field('player', 'Player'),
          field('x', { Fixed: 8 }, 'interpolate', 'predict', 'delta'),
          field('y', { Fixed: 8 }, 'interpolate', 'predict', 'delta'),
          field('aim', 'Angle8', 'angle'),
          field('health', 'U8'),
          field('alive', 'Bool'),
          field('respawns', 'U8', 'discontinuity'),
        ],
      },
      {
        name: 'projectile',
        fields: [
          field('owner', 'Player'),
          field('origin_x', { Fixed: 8 }),
          field('origin_y', { Fixed: 8 }),
          field('heading', 'Angle16'),
          field('spawn_tick', 'U32'),
        ],
      },
    ],
    player_fields: [field('kills', 'U32'), field('deaths', 'U32')],
    room_fields: [],
    input: [field('move_x', 'I8'), field('move_y', 'I8'), field('aim', 'Angle16'), field('buttons', 'U8')],
    actions: [],
    events: [
      ...engineEvents(),
      { name: 'kill', fields: [field('killer', 'Player'), field('victim', 'Player')] },
      { name: 'respawn', fields: [field('player', 'Player')] },
      {
        name: 'hitscan',
        fields: [
          field('shooter', 'Player'),
          field('from_x', { Fixed: 8 }), field('from_y', { Fixed: 8 }),
          field('to_x', { Fixed: 8 }), field('to_y', { Fixed: 8 }),
          field('victim', 'Player'),
        ],
      },
    ],
  };
}

const golden = JSON.parse(readFileSync(fileURLToPath(new URL('./vectors/messages.json', import.meta.url)), 'utf8'));
const v1Welcome = golden.find((v) => v.name === 'server_welcome_default').message;

/** `ArenaGame::client_config` for the default map and rules at 30 Hz. */
export function arenaGameConfig(viewRadius = 700) {
  return JSON.stringify({ arena: v1Welcome.arena, rules: v1Welcome.rules, view_radius: viewRadius });
}
