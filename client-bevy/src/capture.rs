//! `CapturePlugin`: scripted runs. After `after` seconds it saves a screenshot of the window
//! (when a path is given) and then exits; every few seconds, and at exit, it logs the frame
//! rate and the entities in view, and at exit the netcode figures of the F3 overlay; that is
//! how the FPS and correction figures in the docs were taken.

use crate::net::ViewState;
use bevy::diagnostic::{DiagnosticsStore, FrameTimeDiagnosticsPlugin};
use bevy::prelude::*;
use bevy::render::view::window::screenshot::{Screenshot, ScreenshotCaptured, save_to_disk};
use std::path::PathBuf;
use std::time::Duration;

/// Screenshot and exit at a set time.
pub struct CapturePlugin {
    /// Where to save the PNG, if anywhere.
    pub screenshot: Option<PathBuf>,
    /// When to take it and exit; `None` runs until the window closes.
    pub after: Option<Duration>,
}

#[derive(Resource)]
struct CaptureState {
    screenshot: Option<PathBuf>,
    after: Option<Duration>,
    requested: bool,
    saved_frames: Option<u32>,
    frames: u64,
    next_report: f32,
    fps_sum: f64,
    fps_samples: u32,
    in_view_sum: u64,
}

impl Plugin for CapturePlugin {
    fn build(&self, app: &mut App) {
        if !app.is_plugin_added::<FrameTimeDiagnosticsPlugin>() {
            app.add_plugins(FrameTimeDiagnosticsPlugin::default());
        }
        app.insert_resource(CaptureState {
            screenshot: self.screenshot.clone(),
            after: self.after,
            requested: false,
            saved_frames: None,
            frames: 0,
            next_report: 5.0,
            fps_sum: 0.0,
            fps_samples: 0,
            in_view_sum: 0,
        })
        .add_systems(Last, run_capture);
    }
}

#[derive(Resource)]
struct ScreenshotSaved;

fn run_capture(
    mut commands: Commands,
    time: Res<Time<Real>>,
    diagnostics: Res<DiagnosticsStore>,
    view: Res<ViewState>,
    saved: Option<Res<ScreenshotSaved>>,
    mut state: ResMut<CaptureState>,
    mut exit: MessageWriter<AppExit>,
) {
    state.frames += 1;
    let elapsed = time.elapsed_secs();
    let fps = diagnostics
        .get(&FrameTimeDiagnosticsPlugin::FPS)
        .and_then(|d| d.smoothed());
    if elapsed >= state.next_report {
        state.next_report += 5.0;
        if let Some(fps) = fps {
            // The first seconds are start-up (shader compilation); average the rest.
            state.fps_sum += fps;
            state.fps_samples += 1;
            state.in_view_sum += view.entities.len() as u64;
            info!(
                fps = format!("{fps:.1}"),
                in_view = view.entities.len(),
                "frame rate"
            );
        }
    }
    let Some(after) = state.after else { return };
    if elapsed < after.as_secs_f32() {
        return;
    }
    match (state.screenshot.clone(), state.requested) {
        (Some(path), false) => {
            state.requested = true;
            commands
                .spawn(Screenshot::primary_window())
                .observe(save_to_disk(path))
                .observe(|_: On<ScreenshotCaptured>, mut commands: Commands| {
                    commands.insert_resource(ScreenshotSaved);
                });
            return;
        }
        (Some(_), true) if saved.is_none() => return,
        _ => {}
    }
    // Give the save a couple of frames to finish before leaving.
    let waited = state.saved_frames.get_or_insert(0);
    *waited += 1;
    if *waited < 3 {
        return;
    }
    if state.fps_samples > 0 {
        let n = f64::from(state.fps_samples);
        info!(
            avg_fps = format!("{:.1}", state.fps_sum / n),
            avg_in_view = format!("{:.1}", state.in_view_sum as f64 / n),
            frames = state.frames,
            "summary"
        );
        println!(
            "summary: avg FPS {:.1}, avg entities in view {:.1}, {} frames in {:.1} s",
            state.fps_sum / n,
            state.in_view_sum as f64 / n,
            state.frames,
            elapsed
        );
    }
    let c = view.corrections;
    println!(
        "netcode: rtt {} ms, interpolation delay {:.0} ms, corrections: {} reconciliations, \
         {} mispredicted, mean {:.3} u, max {:.3} u, last {:.3} u, {} snaps",
        view.rtt.map_or(-1, |r| r.as_millis() as i64),
        view.interp_delay_ms,
        c.samples,
        c.count,
        c.mean,
        c.max,
        c.last,
        c.snaps
    );
    exit.write(AppExit::Success);
}
