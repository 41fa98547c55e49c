// The arena game exactly as the server describes it, for the page's deterministic tests: the
// schema and default game_config Rust wrote into vectors/arena.json
// (games/arena/tests/vectors.rs), so this file holds no copy of either.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const arena = JSON.parse(readFileSync(fileURLToPath(new URL('./vectors/arena.json', import.meta.url)), 'utf8'));

/** The arena's schema (`tickwire_arena::schema()`). */
export function arenaSchema() {
  return structuredClone(arena.schema);
}

/** `ArenaGame::client_config` for the default map and rules at 30 Hz, with `viewRadius`. */
export function arenaGameConfig(viewRadius = 700) {
  const c = JSON.parse(arena.game_config);
  return JSON.stringify({ ...c, view_radius: viewRadius });
}
