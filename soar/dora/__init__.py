"""DORA major-incident classification (RTS 2024/1772), reporting clocks (RTS 2025/301) and reports (ITS 2025/302)."""
