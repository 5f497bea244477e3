//! Config TOML → validated config: an error with a location, or a config; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = newshound::config::load_str(text, std::path::Path::new("fuzz.toml")) {
        // Rendering the diagnostics (line, column, caret under the snippet) must not panic either.
        let _ = e.to_string();
    }
});
