"""Operations: sync health (seeds/000 健康檢查), free of Dagster."""
