"""Blank Excel templates, one per dataset of the contract: header row, an instruction sheet, and
dropdown validation for enumerated columns."""
from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from catalogue import datasets, kpi_columns

TYPE_HELP = {
    "zh": {"code": "编码", "text": "文字", "unit_ref": "组织编码或名称（二选一）", "bu_ref": "业务单元编码或名称（二选一）",
           "date": "日期，如 2024-07-05", "datetime": "时间，如 2024-07-05 14:30", "month": "月份，如 2024-07",
           "period": "2024、2024H1 或 2024Q3", "count": "非负整数", "number": "非负数", "percent": "0–100 的百分数",
           "score": "0–100 的分数", "enum": "从下拉列表选择", "flag": "是 / 否"},
    "en": {"code": "code", "text": "text", "unit_ref": "unit code or name (either)", "bu_ref": "business unit code or name (either)",
           "date": "date, e.g. 2024-07-05", "datetime": "time, e.g. 2024-07-05 14:30", "month": "month, e.g. 2024-07",
           "period": "2024, 2024H1 or 2024Q3", "count": "whole number >= 0", "number": "number >= 0", "percent": "0-100",
           "score": "0-100", "enum": "pick from the list", "flag": "yes / no"},
}


def write_templates(out_dir: Path, lang: str = "zh") -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ds in datasets().values():
        wb = Workbook()
        ws = wb.active
        ws.title = ds.name(lang)[:31]
        # the KPI file also carries the industry profile's (and the administrator's) columns kept by header
        columns = list(ds.columns) + (list(kpi_columns()) if ds.custom_metrics else [])
        header = []
        for c in columns:
            name = c.name(lang) if lang == "zh" else c.id
            if c.unit and c.unit not in name:
                name = f"{name}（{c.unit}）" if lang == "zh" else f"{name} ({c.unit})"
            header.append(name)
        ws.append(header)
        for i, c in enumerate(columns, start=1):
            cell = ws.cell(1, i)
            cell.font = Font(bold=True, color="FFFFFF")
            cell.fill = PatternFill("solid", fgColor="C8102E" if c.required else "6B7280")
            cell.alignment = Alignment(horizontal="center")
            ws.column_dimensions[cell.column_letter].width = max(12, len(header[i - 1]) * 2 + 2)
            if c.type == "enum":
                values = c.values if lang == "zh" else c.values_en
                dv = DataValidation(type="list", formula1='"' + ",".join(values) + '"', allow_blank=not c.required,
                                    showErrorMessage=True, errorTitle="!", error="请从下拉列表中选择" if lang == "zh" else "pick from the list")
                dv.add(f"{cell.column_letter}2:{cell.column_letter}5000")
                ws.add_data_validation(dv)
        ws.freeze_panes = "A2"
        info = wb.create_sheet("填表说明" if lang == "zh" else "Instructions")
        info.append([ds.name(lang), ds.grain])
        info.append([])
        info.append(["列" if lang == "zh" else "column", "必填" if lang == "zh" else "required",
                     "格式" if lang == "zh" else "format", "可选值" if lang == "zh" else "allowed values"])
        for c in columns:
            info.append([c.name(lang), ("是" if lang == "zh" else "yes") if c.required else "",
                         TYPE_HELP[lang][c.type], "、".join(c.values if lang == "zh" else c.values_en)])
        info.append([])
        info.append(["表头可用中文名或英文编码；表头上方可以有标题行，合计/小计行和填表人等备注行会自动跳过。" if lang == "zh" else
                     "Headers may be the Chinese names or the English ids; title rows above the header and total/note rows are skipped."])
        info.column_dimensions["A"].width = 24
        info.column_dimensions["C"].width = 30
        info.column_dimensions["D"].width = 60
        p = out_dir / f"{ds.id}_{ds.name('zh')}.xlsx"
        wb.save(p)
        paths.append(p)
    return paths
