"""E-invoicing folders as Dagster resources: the Turnkey working folder and the tenants' upload folder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from dagster import ConfigurableResource
from pydantic import Field

from commerce_core.einvoice.intake import UploadFolders
from commerce_core.einvoice.turnkey import TurnkeyFolders
from commerce_core.settings import load_settings


class TurnkeyResource(ConfigurableResource):
    """Where F0401 files are handed to Turnkey and its answers come back."""

    root: Optional[str] = Field(default=None, description="Empty reads TURNKEY_ROOT ($HUB_DATA_DIR/turnkey) at run start.")

    def folders(self) -> TurnkeyFolders:
        return TurnkeyFolders(Path(self.root) if self.root else load_settings().turnkey_root).create()


class InvoiceUploadsResource(ConfigurableResource):
    """The tenants' drop folder: <BAN>/invoices/*.csv and <BAN>/e0501/*.xml."""

    folder: Optional[str] = Field(default=None, description="Empty reads $HUB_DATA_DIR/uploads at run start.")
    settle_seconds: float = Field(default=3.0, description="A file changed more recently is still being written.")

    def folders(self, turnkey: TurnkeyFolders) -> UploadFolders:
        root = Path(self.folder) if self.folder else load_settings().uploads_dir
        return UploadFolders(root, turnkey.e0501, self.settle_seconds)
