from .compare import compare, markdown_table, pretrain_and_probe

__all__ = ['compare', 'markdown_table', 'pretrain_and_probe']
