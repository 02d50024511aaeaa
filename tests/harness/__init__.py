"""Shared test harness: render the chart with the real helm and validate what it renders."""
