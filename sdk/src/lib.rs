//! Steward plugin SDK (the plugin contract arrives with the plugin platform).
