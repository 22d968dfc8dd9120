"""DRF viewsets; each scopes its rows with the model's ``visible_to(user)``."""
