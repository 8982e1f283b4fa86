"""Operations: KPIs from the log and the views, served to operators and exported as metrics."""
