"""The public service mesh (公共サービスメッシュ): nodes, query/provide, access rules, push."""
