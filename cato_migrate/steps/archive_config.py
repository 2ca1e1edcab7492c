"""Archive the LiteLLM configuration (week 16): moved aside in the deployment files, never deleted."""
from __future__ import annotations

from pydantic import Field

from cato_migrate.core.kinds import StepKind, Verification, register_step
from cato_migrate.core.model import CoreModel


class ArchiveItem(CoreModel):
    path: str = Field(description="File or folder, relative to the deployment root.")
    archive: str = Field(description="Where it is moved to, relative to the deployment root.")


class ArchiveParams(CoreModel):
    path: str = Field(description="File or folder to archive, relative to the deployment root.")
    archive: str = Field(description="Where it is moved to, relative to the deployment root.")
    also: list[ArchiveItem] = Field(default_factory=list, description="More files or folders archived the same way.")

    def items(self) -> list[ArchiveItem]:
        return [ArchiveItem(path=self.path, archive=self.archive), *self.also]


@register_step
class ArchiveConfig(StepKind):
    name = "archive_config"
    Params = ArchiveParams

    def plan(self, step, params, ctx) -> str:
        from cato_migrate.wiring import deploy_root

        root = deploy_root(ctx.settings, create=False)
        return "in " + str(root) + ": " + "; ".join(f"move {i.path} -> {i.archive}" for i in params.items())

    def apply(self, step, params, ctx) -> dict:
        from cato_migrate.core.deploy_files import archive
        from cato_migrate.wiring import deploy_root

        root = deploy_root(ctx.settings)
        moved = []
        for i in params.items():
            ctx.fence(f"archive {i.path}")  # a local write, fenced like the adapters' writes
            moved.append(archive(root, i.path, i.archive))
        ctx.audit("config.archive", str(root), ctx.reason, moved=[m["archived"] for m in moved if m["changed"]])
        return {"archived": [m["archived"] for m in moved]}

    def verify(self, step, params, ctx) -> Verification:
        from cato_migrate.wiring import deploy_root

        root = deploy_root(ctx.settings)
        missing = [i.archive for i in params.items() if not (root / i.archive).exists()]
        left = [i.path for i in params.items() if (root / i.path).exists()]
        ok = not missing and not left
        msg = "archived: " + ", ".join(i.archive for i in params.items()) if ok else \
            f"not archived: missing {missing or '-'}, still in place {left or '-'}"
        return Verification(ok, msg, {"missing": missing, "still_in_place": left, "root": str(root)})
