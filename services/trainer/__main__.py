from services.common.service import serve
from services.common.settings import load_settings
from services.trainer.app import create
from services.trainer.config import TrainerSettings

settings = load_settings(TrainerSettings)
serve(create(settings), name="trainer", host=settings.trainer.host, port=settings.trainer.port)
