//! A uniform spatial hash over the world's area, rebuilt every tick. Interest management uses
//! it to find what each client sees; a game may use it to find what is near what.
//! Cost is O(entities) to build and O(entities near the query) to query, so it does not grow
//! with the square of the player count.

use glam::Vec2;

/// Items of type `T` bucketed by position.
#[derive(Debug)]
pub struct SpatialGrid<T> {
    cell: f32,
    cols: usize,
    rows: usize,
    cells: Vec<Vec<(Vec2, T)>>,
}

impl<T: Copy> SpatialGrid<T> {
    /// A grid covering `width × height` with square cells of side `cell`.
    pub fn new(width: f32, height: f32, cell: f32) -> Self {
        let cell = cell.max(1.0);
        let cols = ((width / cell).ceil() as usize).max(1);
        let rows = ((height / cell).ceil() as usize).max(1);
        SpatialGrid {
            cell,
            cols,
            rows,
            cells: (0..cols * rows).map(|_| Vec::new()).collect(),
        }
    }

    /// Empties every cell, keeping allocations for the next build.
    pub fn clear(&mut self) {
        for c in &mut self.cells {
            c.clear();
        }
    }

    fn coords(&self, p: Vec2) -> (usize, usize) {
        let cx = ((p.x / self.cell).floor().max(0.0) as usize).min(self.cols - 1);
        let cy = ((p.y / self.cell).floor().max(0.0) as usize).min(self.rows - 1);
        (cx, cy)
    }

    /// Adds an item at a position (positions outside the area go to the border cells).
    pub fn insert(&mut self, p: Vec2, item: T) {
        let (cx, cy) = self.coords(p);
        self.cells[cy * self.cols + cx].push((p, item));
    }

    /// Calls `f` for every item within `radius` of `center` (inclusive).
    pub fn for_each_within(&self, center: Vec2, radius: f32, mut f: impl FnMut(Vec2, T)) {
        let r2 = radius * radius;
        let (x0, y0) = self.coords(center - Vec2::splat(radius));
        let (x1, y1) = self.coords(center + Vec2::splat(radius));
        for cy in y0..=y1 {
            for cell in &self.cells[cy * self.cols + x0..=cy * self.cols + x1] {
                for &(p, item) in cell {
                    if p.distance_squared(center) <= r2 {
                        f(p, item);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exactly_the_items_in_range() {
        let mut g = SpatialGrid::new(1000.0, 1000.0, 100.0);
        let mut all = Vec::new();
        for i in 0..400u32 {
            let p = Vec2::new((i * 37 % 1000) as f32, (i * 91 % 1000) as f32);
            g.insert(p, i);
            all.push((p, i));
        }
        for (c, r) in [
            (Vec2::new(500.0, 500.0), 150.0),
            (Vec2::new(0.0, 0.0), 320.0),
            (Vec2::new(999.0, 10.0), 99.0),
        ] {
            let mut got = Vec::new();
            g.for_each_within(c, r, |_, i| got.push(i));
            got.sort();
            let mut want: Vec<u32> = all
                .iter()
                .filter(|(p, _)| p.distance(c) <= r)
                .map(|x| x.1)
                .collect();
            want.sort();
            assert_eq!(got, want);
            assert!(!want.is_empty());
        }
    }
}
