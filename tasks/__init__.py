"""Task definitions: one module per task, each registering itself in ``plantseek.planted.task.TASKS``."""
