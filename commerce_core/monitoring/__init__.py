"""Operations: sync health (the GlobalHub design's 健康檢查, docs/background.md), free of Dagster."""
