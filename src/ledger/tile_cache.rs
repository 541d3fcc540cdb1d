//! Stored tree hashes, remembered between proofs. A stored hash never changes once its
//! transaction has committed (the tree only grows; `trail_hashes` rows are never updated), so
//! the tiles that proofs share — the upper tiles of every proof, the leaf tile of a busy
//! range — are read from the database once. An inclusion proof then costs one read of the
//! database (its event and checkpoint, at once) instead of two, and no hex decoding of
//! hashes it already had.

use replay::trail::{Fetched, TILE_WIDTH};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;

/// Tiles kept at most (each up to 256 hashes, 8 KiB); past it the cache starts again empty.
const MAX_TILES: usize = 4096;

/// The stored hashes read so far, by (stored level, tile): each tile's hashes from its
/// first index on, as far as they have been read.
#[derive(Default)]
pub struct TileCache {
    tiles: Mutex<Tiles>,
}

/// Each tile's hashes from its first on, by (stored level, tile index).
type Tiles = HashMap<(u8, u64), Vec<[u8; 32]>>;

impl TileCache {
    /// Answers what it can of `needs` (ranges of one tile each, as `Query::needs` gives
    /// them) into `fetched`, and returns the rest to read, each widened to start at its
    /// tile's first hash so that the read fills the tile in.
    pub fn lookup(
        &self,
        needs: &[(u8, Range<u64>)],
        fetched: &mut Fetched,
    ) -> Vec<(u8, Range<u64>)> {
        let tiles = self.tiles.lock().expect("tile cache lock");
        let mut to_read: Vec<(u8, Range<u64>)> = Vec::new();
        for (level, range) in needs {
            let tile = range.start / TILE_WIDTH;
            let start = tile * TILE_WIDTH;
            match tiles.get(&(*level, tile)) {
                Some(hashes) if (hashes.len() as u64) >= range.end - start => {
                    for index in range.clone() {
                        fetched
                            .0
                            .insert((*level, index), hashes[(index - start) as usize]);
                    }
                }
                _ => match to_read
                    .iter_mut()
                    .find(|(l, r)| *l == *level && r.start == start)
                {
                    Some((_, read)) => read.end = read.end.max(range.end),
                    None => to_read.push((*level, start..range.end)),
                },
            }
        }
        to_read
    }

    /// Keeps what was read for `read` (as [`lookup`](Self::lookup) returned it): each
    /// range's hashes from its start for as long as none is missing.
    pub fn remember(&self, read: &[(u8, Range<u64>)], fetched: &Fetched) {
        let mut tiles = self.tiles.lock().expect("tile cache lock");
        if tiles.len() + read.len() > MAX_TILES {
            tiles.clear();
        }
        for (level, range) in read {
            let hashes: Vec<[u8; 32]> = range
                .clone()
                .map_while(|index| fetched.0.get(&(*level, index)).copied())
                .collect();
            let tile = tiles.entry((*level, range.start / TILE_WIDTH)).or_default();
            if hashes.len() > tile.len() {
                *tile = hashes;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(level: u8, index: u64) -> [u8; 32] {
        let mut h = [level; 32];
        h[..8].copy_from_slice(&index.to_be_bytes());
        h
    }

    fn read_from_store(read: &[(u8, Range<u64>)], stored_up_to: u64) -> Fetched {
        let mut fetched = Fetched::default();
        for (level, range) in read {
            for index in range.start..range.end.min(stored_up_to) {
                fetched.0.insert((*level, index), hash(*level, index));
            }
        }
        fetched
    }

    #[test]
    fn a_tile_read_once_answers_later_proofs_and_a_short_read_is_not_taken_as_whole() {
        let cache = TileCache::default();
        let mut fetched = Fetched::default();
        // Two ranges of one tile become one read from the tile's start.
        let to_read = cache.lookup(&[(0, 260..262), (0, 300..302), (8, 1..2)], &mut fetched);
        assert_eq!(to_read, vec![(0, 256..302), (8, 0..2)]);
        assert!(fetched.0.is_empty());
        // The store has level-0 hashes only below 290: the rest of that range is not kept.
        cache.remember(&to_read, &read_from_store(&to_read, 290));

        let mut fetched = Fetched::default();
        let to_read = cache.lookup(&[(0, 270..272), (8, 0..2), (0, 289..291)], &mut fetched);
        assert_eq!(
            to_read,
            vec![(0, 256..291)],
            "only the range past what was stored"
        );
        assert_eq!(fetched.0.len(), 4);
        assert_eq!(fetched.0[&(0, 271)], hash(0, 271));
        assert_eq!(fetched.0[&(8, 1)], hash(8, 1));
    }
}
