//! Prediction of the local player's entity, for any game.
//!
//! The game supplies its deterministic step ([`PredictStep`]): the very code the server runs
//! for one input command, applied to the lanes of the predicted entity. Each new command is
//! applied locally at once; when a snapshot acknowledges command `N`,
//! [`Predictor::reconcile`] restarts from the server's lanes and replays the commands after
//! `N`. Only the fields declared `predict` take the step's values; every other field is the
//! server's (a step may read a hit-point or alive field, but what it writes to them is not
//! shown). If the predicted fields come out different from the old prediction (the server
//! pushed us, something the client could not know), the difference becomes a visual offset on
//! the `Linear` predicted fields that shrinks by half every `correction_half_life_s` and by at
//! least `correction_min_speed` world units per second, instead of a jump; a change of a
//! `discontinuity` field (a respawn) or an error past `snap_distance` snaps. The browser SDK's
//! `predict.js` is the same.

use super::InputCmd;
use crate::schema::{FieldDesc, Interp};

/// The game's deterministic step for one input command, shared with the server.
pub trait PredictStep {
    /// Applies `cmd` to the lanes of the predicted entity.
    fn step(&self, lanes: &mut [i64], cmd: &InputCmd);
}

impl<F: Fn(&mut [i64], &InputCmd)> PredictStep for F {
    fn step(&self, lanes: &mut [i64], cmd: &InputCmd) {
        self(lanes, cmd)
    }
}

/// Tuning of [`Predictor`].
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionConfig {
    /// The visual correction halves every this many seconds.
    pub correction_half_life_s: f64,
    /// ...and shrinks by at least this many world units per second, so a small one ends in a
    /// few frames instead of creeping for a second.
    pub correction_min_speed: f64,
    /// Errors larger than this (in world units of the predicted linear fields) snap.
    pub snap_distance: f64,
}

impl Default for PredictionConfig {
    fn default() -> Self {
        PredictionConfig {
            correction_half_life_s: 0.06,
            correction_min_speed: 40.0,
            snap_distance: 64.0,
        }
    }
}

/// What a reconciliation found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Correction {
    /// Distance between the old and the new prediction over the predicted linear fields,
    /// world units (0 when the prediction held).
    pub error: f64,
    /// Whether the display jumped instead of being smoothed.
    pub snapped: bool,
}

/// The local entity's prediction.
#[derive(Debug, Clone)]
pub struct Predictor {
    config: PredictionConfig,
    fields: Vec<FieldDesc>,
    server: Vec<i64>,
    predicted: Option<Vec<i64>>,
    offset: Vec<f64>,
}

impl Predictor {
    /// A predictor for an entity with these fields, waiting for the first server state.
    pub fn new(config: PredictionConfig, fields: Vec<FieldDesc>) -> Predictor {
        Predictor {
            offset: vec![0.0; fields.len()],
            config,
            fields,
            server: Vec::new(),
            predicted: None,
        }
    }

    /// Runs the step on `lanes`, keeping its result only in the predicted fields.
    fn run(&self, lanes: &mut [i64], cmd: &InputCmd, step: &(impl PredictStep + ?Sized)) {
        let before = lanes.to_vec();
        step.step(lanes, cmd);
        for ((l, b), f) in lanes.iter_mut().zip(before).zip(&self.fields) {
            if !f.predict {
                *l = b;
            }
        }
    }

    /// Applies a freshly made command (nothing before the first server state).
    pub fn predict(&mut self, cmd: &InputCmd, step: &(impl PredictStep + ?Sized)) {
        if let Some(mut p) = self.predicted.take() {
            self.run(&mut p, cmd, step);
            self.predicted = Some(p);
        }
    }

    /// Restarts from the server's lanes and replays `pending` (commands after the
    /// acknowledged one, oldest first).
    pub fn reconcile<'a>(
        &mut self,
        server: &[i64],
        pending: impl IntoIterator<Item = &'a InputCmd>,
        step: &(impl PredictStep + ?Sized),
    ) -> Correction {
        let mut lanes = server.to_vec();
        for cmd in pending {
            self.run(&mut lanes, cmd, step);
        }
        let jumped = !self.server.is_empty()
            && self
                .fields
                .iter()
                .zip(self.server.iter().zip(server))
                .any(|(f, (a, b))| f.discontinuity && a != b);
        self.server = server.to_vec();
        let Some(old) = self.predicted.replace(lanes.clone()) else {
            self.offset.fill(0.0);
            return Correction {
                error: 0.0,
                snapped: true,
            };
        };
        let mut error2 = 0.0;
        for (i, f) in self.fields.iter().enumerate() {
            if f.predict && f.interp == Interp::Linear {
                let d = f.ty.dequantize(old[i] as f64) - f.ty.dequantize(lanes[i] as f64);
                error2 += d * d;
            }
        }
        let error = error2.sqrt();
        let snapped = jumped || error > self.config.snap_distance;
        if snapped {
            self.offset.fill(0.0);
        } else {
            for (i, f) in self.fields.iter().enumerate() {
                if f.predict && f.interp == Interp::Linear {
                    self.offset[i] += (old[i] - lanes[i]) as f64;
                }
            }
        }
        Correction { error, snapped }
    }

    /// Decays the visual correction by one frame of `frame_s` seconds.
    pub fn advance(&mut self, frame_s: f64) {
        let len = self
            .fields
            .iter()
            .zip(&self.offset)
            .map(|(f, o)| f.ty.dequantize(*o).powi(2))
            .sum::<f64>()
            .sqrt();
        if len == 0.0 {
            return;
        }
        let decayed = len * 0.5f64.powf(frame_s / self.config.correction_half_life_s.max(1e-6))
            - self.config.correction_min_speed * frame_s;
        let k = if decayed <= 0.0 { 0.0 } else { decayed / len };
        for o in &mut self.offset {
            *o *= k;
            if o.abs() < 0.05 {
                *o = 0.0;
            }
        }
    }

    /// The predicted lanes (exact: what the server will compute without interference).
    pub fn predicted(&self) -> Option<&[i64]> {
        self.predicted.as_deref()
    }

    /// What to draw: the prediction plus the decaying correction, lane units.
    pub fn render(&self) -> Option<Vec<f64>> {
        let p = self.predicted.as_ref()?;
        Some(
            p.iter()
                .zip(&self.offset)
                .map(|(v, o)| *v as f64 + o)
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::FieldType;
    use crate::{InputSeq, Tick};

    fn fields() -> Vec<FieldDesc> {
        vec![
            FieldDesc::new("x", FieldType::Fixed(8))
                .interpolate()
                .predict(),
            FieldDesc::new("life", FieldType::U8).discontinuity(),
        ]
    }

    fn cmd(seq: u32, dx: i64) -> InputCmd {
        InputCmd {
            seq: InputSeq(seq),
            view_tick: Tick(0),
            lanes: vec![dx],
        }
    }

    fn walk(l: &mut [i64], c: &InputCmd) {
        l[0] += c.lanes[0];
    }

    #[test]
    fn replays_unacknowledged_commands_and_smooths_a_surprise() {
        let config = PredictionConfig {
            correction_min_speed: 0.0,
            ..PredictionConfig::default()
        };
        let mut p = Predictor::new(config, fields());
        assert!(p.reconcile(&[0, 0], [], &walk).snapped, "the first state");
        let cmds: Vec<InputCmd> = (1..=3).map(|s| cmd(s, 8)).collect();
        for c in &cmds {
            p.predict(c, &walk);
        }
        assert_eq!(p.predicted(), Some(&[24, 0][..]));
        // The server applied command 1 exactly as predicted.
        let c = p.reconcile(&[8, 0], &cmds[1..], &walk);
        assert_eq!((c.error, c.snapped), (0.0, false));
        // The server pushed us back by 2 units: smoothed, not snapped.
        let c = p.reconcile(&[0, 0], &cmds[2..], &walk);
        assert_eq!((c.error, c.snapped), (2.0, false));
        assert_eq!(p.predicted(), Some(&[8, 0][..]));
        assert_eq!(p.render().unwrap()[0], 24.0, "drawn where it was");
        p.advance(0.06);
        assert_eq!(
            p.render().unwrap()[0],
            16.0,
            "half the way after one half-life"
        );
        // A respawn snaps.
        assert!(p.reconcile(&[800, 1], [], &walk).snapped);
        assert_eq!(p.render().unwrap()[0], 800.0);
    }

    #[test]
    fn a_small_correction_ends_in_a_few_frames_and_only_predicted_fields_take_the_step() {
        let mut p = Predictor::new(PredictionConfig::default(), fields());
        // A step that also writes the non-predicted `life` field: not shown.
        let step = |l: &mut [i64], c: &InputCmd| {
            l[0] += c.lanes[0];
            l[1] = 99;
        };
        p.reconcile(&[0, 0], [], &step);
        let c1 = cmd(1, 47);
        p.predict(&c1, &step);
        assert_eq!(p.predicted(), Some(&[47, 0][..]), "life stays the server's");
        // The server pushed us back by 47 lanes (5.9 units): smoothed away within 8 frames at
        // 60 Hz (the half-life alone would take 36).
        let c = p.reconcile(&[-47, 0], [&c1], &step);
        assert!(!c.snapped && c.error > 5.0, "{c:?}");
        let mut frames = 0;
        while p.render().unwrap()[0] != 0.0 {
            p.advance(1.0 / 60.0);
            frames += 1;
            assert!(frames <= 8, "still {} lanes off", p.render().unwrap()[0]);
        }
        assert!(frames >= 3, "smoothed, not dropped: {frames} frames");
    }
}
