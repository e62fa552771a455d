import logging

import uvicorn

from services.common.settings import load_settings
from services.inference.app import create
from services.inference.config import InferenceSettings

logging.basicConfig(level=logging.INFO, format="%(asctime)s inference %(levelname)s %(message)s")
settings = load_settings(InferenceSettings)
uvicorn.run(
    create(settings),
    host=settings.inference.host,
    port=settings.inference.port,
    log_level="warning",
)
