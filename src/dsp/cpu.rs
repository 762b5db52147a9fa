//! What the CPU can do, asked once: the hot loops are compiled twice and pick at run time.

/// Whether the CPU has AVX (256-bit float vectors).
#[cfg(target_arch = "x86_64")]
pub fn has_avx() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| is_x86_feature_detected!("avx"))
}

/// Whether the CPU has AVX2 (256-bit integer vectors too).
#[cfg(target_arch = "x86_64")]
pub fn has_avx2() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| is_x86_feature_detected!("avx2"))
}
