"""The TBM grain-boundary micrographs of notebook 01: tint-etched optical images with hand-drawn boundaries
(MLOgraphy++, a public subset of 64 training and 16 test crops of 256 x 256), downloaded and hash-checked.
"""

from __future__ import annotations

import os

import numpy as np

from helpers.core.checks import check_choice
from helpers.data.folder import load_image_mask_folder
from helpers.data.public.download import fetch_files

TBM_URL = ("https://raw.githubusercontent.com/Scientific-Computing-Lab/MLOgraphyPlusPlus/"
           "f24b8ea40e13362ff9bfafd4fb8632ddd2ca7c0f/AutoSAM/TBM_dataset/")
# Local layout -> remote folder of the TBM grain-boundary subset (64 train and 16 test crops).
TBM_REMOTE = {"train": "TrainDataset", "test": "TestDataset"}
# sha256 of every file, computed from the public copy.
TBM_FILES = {
    "test/images/10-0-768.png": "52bc52b281de2d0e8957e3fd2a24e9b2e87fe4abfc20b17af2c1cd5037eb8a63",
    "test/images/11-0-0.png": "597b0565f943c2bb019c124c748db5aad926d3ebc764abd5b9ad2c01edcda2d5",
    "test/images/12-256-768.png": "4be168ea795b34854f9866c94f62403f23c1f7416b8b09ce6bc249031d6640e2",
    "test/images/13-0-0.png": "02940e59e30995d73a8b53cbf962a305ff8376f95b495d4f191011f885c28e8c",
    "test/images/14-256-256.png": "4c08112e1cb66978ce81501e9228be1453f302de6ba0692e8fbbdb9caf824080",
    "test/images/15-0-0.png": "c28bb99345b8f0ea9404df4122a54766733e12046d27e109fc93bf66fc20e544",
    "test/images/17-0-256.png": "dba4ff2eda93a1a3f5a445d0f5ce5bafcd37e5ff137796b4b27370d986db8d04",
    "test/images/18-0-0.png": "c7a691d5e2c31aa114477fe95a0defc3de9b1668b1c7b61ef8ff21f31bf0c2b1",
    "test/images/18-256-256.png": "1571a9eae58ec2bc0a6f6d6c984a91460b9500b015b626d65bd77754cdd55569",
    "test/images/18-512-512.png": "8f16a0bfc76ed5e9e0effe537423c432e8416e356cd10f9485ac99324e1eca42",
    "test/images/19-256-768.png": "64478d990a2123398e8122d0f551656288520786a29146d4905f655e268990e9",
    "test/images/21-512-1024.png": "c1c66f89dd68965dee385fb38740d8043b32820e0ca5370f04cc57b452172f42",
    "test/images/22-256-0.png": "039c73e5cb21f003f27717bcbabfd77734f84690f6873e9b98e4876da2995b3d",
    "test/images/27-512-256.png": "a6747a387639090e3e28a406f3c7cd2258eadb573a18d05febfa2799597842b3",
    "test/images/27-512-512.png": "d6de91ec0d74557299ec58ba92d359023e314ba2c804e71317bad47354d50c4b",
    "test/images/28-0-512.png": "a152e5e881696b6da93bc164baccb553d7271fd4e3b747452460d9e649900787",
    "test/masks/10-0-768.png": "8ef15d081cfbedcae887520600cc0a27cd4494bd4446f90456cf21683a047b38",
    "test/masks/11-0-0.png": "a1bb006b689263e1f248419621ea2660c767778b2d6fdda85be189c580e7931a",
    "test/masks/12-256-768.png": "ee875d0b038f7e4b96ccba41852da25ca5207fd4b64b69a87987a2f7581d407c",
    "test/masks/13-0-0.png": "850fbd8ca54425dc34640768f89963aa98d43f73c7ea58bdb83704d5d7fc3fca",
    "test/masks/14-256-256.png": "8ea826bf02e343dc1d94fbd9f380440d5d3351aa164fd7ebaa43c4d93f683d38",
    "test/masks/15-0-0.png": "638b1a8b077b0b528d11ece6447e7f2e200a387ff5f5593c4348dbdaf6be39cd",
    "test/masks/17-0-256.png": "e10367872923978eef55f18c0f1079de9ba98569b5757f0aad8ebb21bb5e1910",
    "test/masks/18-0-0.png": "970efef862c1ef316441e5b144e8c05f96e235140deb52990d01192ca74e2dfc",
    "test/masks/18-256-256.png": "d06c2aa0e48b6935ddbc93796ea08b96824dff89c77f5933c06a86bb34ced933",
    "test/masks/18-512-512.png": "e0749604194151a43df1f18d67e702cc9fc578cca650adf345d38f2d75e68945",
    "test/masks/19-256-768.png": "0ae8edfdcd2e1666b354bf5a73024ad7969a9a76c98cc91865be43bd0e2410f3",
    "test/masks/21-512-1024.png": "c2107a60b11ca45abe82e0bc652f0f29286bb14f82f44443735330e805608ac9",
    "test/masks/22-256-0.png": "3bd1ad20d910b9887b3472d9ea1cb3d5200f0917fa0ef323647a7dbaad3224ff",
    "test/masks/27-512-256.png": "d6148886b6ca6dbed74f2071ab0bc10304114ad9fc12909151d22bb8cb441086",
    "test/masks/27-512-512.png": "02a7882492ade34bc52014afacb18eb57321083b7f8422c00e871678d23fbdd0",
    "test/masks/28-0-512.png": "298234de20ccc5379bc68507e78a791cbab3a504b6c2b233b5195d6c40702934",
    "train/images/10-256-1024.png": "ae5849b62ad011709afeceb664093aadaa6924d3f2cdd2a0547ad504fa40da39",
    "train/images/10-256-512.png": "5965d5b63c2a5fd530a417d329af358b691491006df84075de4b86c258bd1195",
    "train/images/10-512-512.png": "83f48de07a461e4726ab0fefc0b211ca0c52ebc78e0ca33740aa492a512853c1",
    "train/images/11-0-256.png": "10bb53323ab65ed2ce624e03976d6de47cccd1faf4a6203d8f1fedbffaa22728",
    "train/images/11-256-256.png": "05bc38a0196230febc9e3ad23258b09aa876b5131d11d4132dd2aed24a654e43",
    "train/images/11-512-256.png": "c18f6a842ab53b2e5dc4de8dd73ca185233faa2777f6ffe6267c115c7cc74d6c",
    "train/images/11-512-768.png": "4c00a3567abe2ef1644cfd8e37405a126a20e12276fbf4144b1b892b61413457",
    "train/images/12-256-512.png": "a2cc09aec69ee903c89e5ae38f5062bb72f269159596c0192bb7e5633d6241fe",
    "train/images/12-512-512.png": "1f7fe371b9a17731a05cfd1c3335a868dd533c0bcd42aabd86fe9cd83e4e5e89",
    "train/images/13-0-768.png": "05ea4636803cc58373f2d3fb2e649f490692353d96db8be78ab8c4737d81e233",
    "train/images/13-256-768.png": "30739b1744b53bc374525da172f580d4ab8fb290a973222711e576c9905fa42e",
    "train/images/14-0-512.png": "a1c6e9075351af4cb9e7fa0fbd5e426f951db88e612564ad1a351decb1478a9c",
    "train/images/14-256-0.png": "258044bb9d15390d0bd5389207a84a2430f7ce6fbf02947c04163a30d20fa5ca",
    "train/images/14-256-1024.png": "c4d7c05b6c666d87c172310cc58104446ac556d72ba39dc680089531e642b2fa",
    "train/images/14-512-1024.png": "691ca8fee5fa6187079483a2179e22d032d78f88cb8386e7177cd76a1079a0ee",
    "train/images/14-512-256.png": "91a465e97e292b0999399db62accd503e2cb8c258e28db65aa4959e6a12807e1",
    "train/images/14-512-512.png": "22bee64fd5f345f8bfdc67586ff3f58ca18d876db080155d00bda5439809c2e2",
    "train/images/15-0-1024.png": "7cca3033834776291470e54f8fafe8c9ca2343beee0f1e645f9a8c21812e38e3",
    "train/images/15-512-0.png": "32cfbbf45a5b34da12f263005bcce4a64e5002d6128d3d379362c1b95aed9c61",
    "train/images/16-256-256.png": "0112a968bcde9460618f2134154bd7df936cb60cabb89665266a7735441bbf35",
    "train/images/16-512-0.png": "18083bb82673950d26ecddd1bc04695b44773bdf32f7747f411fac312af7e50d",
    "train/images/17-0-1024.png": "3075930cbf09c0d045756bc804c46da8d70ab3dcb1d48aa1051ee97530d80b21",
    "train/images/17-512-0.png": "1a024ffbd6f0d2ed41623056f1ae8f0e77520898a84927dd639182d5189f14bb",
    "train/images/18-256-768.png": "d881538696fd6aa741e401e713430707b99e9f9feb3c621aa66d4ae83b153bc0",
    "train/images/19-256-1024.png": "96efcc83340f63f5fce837d28a8a7b155028557e969911beb84b2faf65a20d18",
    "train/images/19-512-768.png": "7785c5fc344afc04086c24168a762ff898664ea4f172d0943b7d308eca39c3c5",
    "train/images/20-0-1024.png": "47243e08fe45b34d3b80ee9ecc9690d0125b1f4543d3eb78bf948f50aa041b07",
    "train/images/20-256-512.png": "42c51f5719497add0061afa6965d524f40671a0d2c6c2103124a3e34486ed57d",
    "train/images/20-512-0.png": "9b055688faa7ca75497c781584b5b93c24ad595f7150899229c79e507506bb7c",
    "train/images/21-0-1024.png": "523072ca6604df9083019677c9fdb6a5b0a02b3b3f211558937169842469836c",
    "train/images/21-0-256.png": "71dad4c6a7d06fbf6237874d5144c2399ce826b45c81383a33acfabd9d689848",
    "train/images/21-0-768.png": "18ec37b2f02ef094089268e054c0882535b0399af3b371999002e221e537fe19",
    "train/images/21-256-1024.png": "faf27b883e0ed922b4ca27f408e6b9604fb76c6e948fa05ba2f0f192e6eedb36",
    "train/images/21-256-256.png": "ec283e2dbe2f98750abd490897eec604c7730f56935a568051ec3f3b9bfe3d4e",
    "train/images/22-0-0.png": "0fe50fc726727b3481cd8342f6978154bd87fb47d7d441d68f564e4a9265f717",
    "train/images/22-0-1024.png": "b0c3b08ab02243736ee87913c37d73ccbf2635488faf010b8cb6615e5d7046c7",
    "train/images/22-0-512.png": "3f3bf2e3514be7e14ae3f73b400e5cef7ce7381e9a77bd0c7cb4b6930d632d2b",
    "train/images/22-256-512.png": "bbb1734b19f196e75159f9237dd5baaa908efd93fc01287a5253cd1713a088f1",
    "train/images/22-256-768.png": "65e744dea68f86f32e58c8a765cfee26881030787ece7cb60cb01dbf3fecaa29",
    "train/images/22-512-0.png": "ca2753bc9475d0af2705ae980101633505312808d4f81ddaab03cad4cb8ad450",
    "train/images/23-0-0.png": "b2f56ce2c1f307b549401ba088aeae9120244d44eadcc6544955a49a5ae8ddb4",
    "train/images/23-0-256.png": "0da5eb3a3b10e4d729912d544c67e1ef8079c57921b939573c0f79413df8ce1d",
    "train/images/23-512-0.png": "e7873101c03be224d716bf22aadb111cd31fabfb57ed3a0461fce09eb0606c01",
    "train/images/23-512-1024.png": "cc2fc9fcee9e2a114d3faaed01843b26cb9fc7b412d111ef74207d889294c643",
    "train/images/23-512-512.png": "fbd5528487e2fdbd1eb56789440e59ca9319314caaba61089a05cede539a377c",
    "train/images/24-0-256.png": "196c5866b82feb645b0d17c51a85e083b07902a26fd721376d0eefb99673e312",
    "train/images/24-256-0.png": "624d13c5a23886b58aeb8691831cdfc22285dd5b537f9204df4bc1b65541a37c",
    "train/images/24-256-1024.png": "43b0dbcf90248f4cd8e43b7a041b00ed9b39a6a663b1053bb7be397c27e531e1",
    "train/images/25-0-0.png": "f28888ce9201641ae3c4ea9b5bb4e2eb11443e179e0213b73d8041d52625c56b",
    "train/images/25-0-1024.png": "afbb5efc22c2887cb7446cfbfae0dc3a00db2c45b0eaca3f47351c2156c32393",
    "train/images/25-0-512.png": "653faea3b9f8e1bd4cc3ed8718813aa7cb6fd3dceef3518ee0f0ed59a7f6ce52",
    "train/images/25-256-1024.png": "063edad22e5db3fd6a8ff53c432e4d6322c0aa2a0fc6f7e41f1434038e83fc3e",
    "train/images/25-512-256.png": "388e0a6ef0d0a723d0f247e259a16ed5221722fe14700dac773e88d28f7a5826",
    "train/images/27-256-1024.png": "40cd31a00950cee84bb996dd548e34c81c86e1568f62abcf61605cce26569bcd",
    "train/images/27-512-768.png": "7b56d5f34064ebf613d0b1558ca0cf59b911a93c81a2009c5199c74b0cc96ae9",
    "train/images/28-256-0.png": "13785c4e7feb32ec3d33ec831bfef480c8f961075ce69e2e963a85d936c59bc4",
    "train/images/28-512-0.png": "5abacd4f00a8348c04330b77e54de2968e4e1418d82aa0ed7011a5f8108b3a51",
    "train/images/29-256-0.png": "6ab2a3ebb0a57865ac40c514f302b5f7468728f0902f2f04e7510f0fd55250b5",
    "train/images/29-256-1024.png": "91de201e6014cdf1ae74b7e99997fb4c5711017811b4593527e6a667f8c40217",
    "train/images/29-256-768.png": "8493e8c5ba3a026df15a21611e4f3443aff6fcfc6768f4ef778e6558cee876f3",
    "train/images/29-512-256.png": "d1d2f1ff671525936d5a7ef5192a4e4c08f39c45ca4e8bdb6247c38d99560d20",
    "train/images/30-512-0.png": "e5c4d28a936c39049e950e6f451e487d90a5de30b2c32a5cac6bacb5c09e4359",
    "train/images/30-512-512.png": "af39dab517bed368ca0e7f5dcf8830ec1f535dbe5f391f078dca2a23cebcc84e",
    "train/images/31-0-256.png": "d1790bf6b3ed89d5f4fc3e2ee008ad6027f0253ea65217c405e8b9e41c526d5c",
    "train/masks/10-256-1024.png": "30810da07e3e57a0e3f961d58267b59654f77b698c018205d951f5b2a034ded4",
    "train/masks/10-256-512.png": "c7be7888a86b706353ae6ce1a6ca8cb6c4ca2ce930f718f69f4640d1b96642b2",
    "train/masks/10-512-512.png": "edd341c49b863255eecfd27cb3f2e0f9719e125182ce2b2378bf1cc6e46f7e81",
    "train/masks/11-0-256.png": "3f64d6dcb229687667299f1b3896f28f0d198f3bcde345b1756c6e55bdfbf33d",
    "train/masks/11-256-256.png": "012ecaad0d95622350ea6c9d1fda83373def1f535c33d317674a65b8514cffea",
    "train/masks/11-512-256.png": "5d486fa0a3d97b988d427c198484799cff7c22e939e5333530e4e0f13b353104",
    "train/masks/11-512-768.png": "db25df42ed2abad962717ff6ae2f74cdde4feb692e4cdade5a23b111d3430ac8",
    "train/masks/12-256-512.png": "15a509fcb88a9019f7b5306feacb50f5d1120f02f75bfb4826f2a011498fc90c",
    "train/masks/12-512-512.png": "15e295a4424e95ac1088a811f4ba19dd542d66e72c801f47e20a2f072dc7eb18",
    "train/masks/13-0-768.png": "5c7675e7a4c1172c94e8236d42782175730297c3be9c213c80e5eb3d86bb41db",
    "train/masks/13-256-768.png": "1a194eb135080fc70396e80ef20691531b0531cccc5418d68d523d41c8b9247d",
    "train/masks/14-0-512.png": "ce6c0a5dec141313a97c292896802872d01b21be6543b57b801ca60c46429d95",
    "train/masks/14-256-0.png": "9e3e4be749abff8cc78e72b33d4a01ad5460412523d68392440e6e621654481b",
    "train/masks/14-256-1024.png": "c7645e0b9a982716c0a4a60de5f711785bfc066d10e26482b2adbd59b2d8768c",
    "train/masks/14-512-1024.png": "9cf201944ca99df8c1ca3c130115ab31f65a0a3667bd1aa88b13b8ace75df1e2",
    "train/masks/14-512-256.png": "f9303a97c74b5cfaee6c3fabb2787d70b0ddc7b71caa3569604a5a32006dd08d",
    "train/masks/14-512-512.png": "68ea4298aeb1861b48a6c18e9a107bad4b6934014ec0fad67a7ca0a026ad7e5d",
    "train/masks/15-0-1024.png": "9307a2c341e669571c635e609d5669237c0e2c34c1cd9ea6501b9db847ecf807",
    "train/masks/15-512-0.png": "b7bed9c3a2b8251a28e3fe250bcbe802da12ed7050594f9e11d06e8be99ba588",
    "train/masks/16-256-256.png": "3d441f793b1f96f804784b38fe4a85d66af17a71001c7b6bcd9479c2e6a9548f",
    "train/masks/16-512-0.png": "3cb32795a70a18424f4e8864da324dd901d33258b197ca1d4c79197599159476",
    "train/masks/17-0-1024.png": "5ab086a67959dd642c85ae90d7d0e73a900ff794c75a1a5df839b4ae7b7439d5",
    "train/masks/17-512-0.png": "4f1e40bac5ff3443cc04195944155c9a153bf739d4d01d05465209b2ef4331fe",
    "train/masks/18-256-768.png": "2a748d18993cfae68b9cd08e2ab15b656808828020945ef2c6c6658709ff1633",
    "train/masks/19-256-1024.png": "4a9ddb98ef33446d8d113d9bce3a714ad6dc999f099c7125ae11c311f14e130f",
    "train/masks/19-512-768.png": "4ec235e952c1819a0871afddf268a041c6c7dc908abab24bb66c5043e03a955c",
    "train/masks/20-0-1024.png": "bc33708d50b895f6a41ca674aa567f4984b70609491da02772b3119d480a730c",
    "train/masks/20-256-512.png": "77ca1fe9fe0698b041e556fe59ed77070ab656ac6cc4188659e41d8f39cf4ec6",
    "train/masks/20-512-0.png": "3fe5a05468ab326a9e65bfa91ef6f896582ca087a60daa506f5eaea0986db728",
    "train/masks/21-0-1024.png": "62372f1f37db0b2bd6545ec57f5cb785929b887d68e86f0fbc9215fca3d0fd49",
    "train/masks/21-0-256.png": "5a2546666ba3492a3772fcf1a999d0ce8cb9c0d0cb72745c130af50c0beb38a4",
    "train/masks/21-0-768.png": "ffc9344fe5e2ad7328d814571fb9c283dbc7bbf4c40bc7c9fa37be7bc60df7d3",
    "train/masks/21-256-1024.png": "021f9e3855dd8c7830524424a5ded9c24a8562cc75031356e8d2ecc9b6e53697",
    "train/masks/21-256-256.png": "872a2c3848a4baf15589498f740526609395fd2c8d873c04e961b587fc8684cb",
    "train/masks/22-0-0.png": "d85d57b9fc5ad46529c1aa68a13ad28ca87e5f5d745eb713b0b493b1b17a3c3c",
    "train/masks/22-0-1024.png": "cae222896d32ee74232303c90a8111be67bc69403bc00c0828a470843e071a3a",
    "train/masks/22-0-512.png": "efd4ccf7fb51f0d60681ed35a7d5855755754296fb347122fff176a1a24038d5",
    "train/masks/22-256-512.png": "2b4f5093fce29e3d4a82b1ddeac696159e73cc1be434196e3d893bdb7fb9394b",
    "train/masks/22-256-768.png": "b87e91e04a3ece69919b96b50d820a1405854b6aa03e5520b791ba41712dac15",
    "train/masks/22-512-0.png": "871419625a61e117576ad886cb6fb04ecef73f47c0c3513ed9cc0a0518365fa1",
    "train/masks/23-0-0.png": "f8554ec058a14a8038b84f935d9c4d9ab9f7966c5a11802d6f3d22b7f28b017b",
    "train/masks/23-0-256.png": "acee2698331a085f4fff5944f95801558296b209ae3f16379acab41e9b3f0db8",
    "train/masks/23-512-0.png": "0c40bd1c5301e2ea6589e14492cc4e4d3474790b5d4a6a4ef9b4076065e76305",
    "train/masks/23-512-1024.png": "f4843970eaa1e3a4dfaf5b58a34cbc019b44a8a5e6d7f95faac1501542b61e20",
    "train/masks/23-512-512.png": "5f07b8aa012be02e3a0ce929c8e4d180aaac77a29f4dc8b5cfcef85f66b4a3b5",
    "train/masks/24-0-256.png": "d188af96d4b3f6244c3e16d447a213d6ce128ecbcb8d53403fe800aba7522998",
    "train/masks/24-256-0.png": "848342a3f315c5481ddb8d1caa9391dd81fd8c1d451ba4a4e468c4c4b5e091ce",
    "train/masks/24-256-1024.png": "54c78ae1b07b2f0e140ec27fb1d9c1d903e65ee567637a4ece5408d884adcbd3",
    "train/masks/25-0-0.png": "cf1a31fe34e2c1d72d911ace5dde2dcf18f36032f7f85328fa3b979f1c274630",
    "train/masks/25-0-1024.png": "1b2101d22a0a4940b2a5ca2b85348c5648416850a41102c680e7e3b4d9ea013e",
    "train/masks/25-0-512.png": "9936a2f75e4da268d756af9f1c91e75a6b446eb6bc16de065f65e66dec4e0962",
    "train/masks/25-256-1024.png": "72aa0ad0b96d6c440da88c2b457398fbbe1d4678d568784459fbddddfb93f3be",
    "train/masks/25-512-256.png": "f54555404651f4fbe5b87a239ce1c7aa669152ccb4beaea669a3e5a2d5f47e7a",
    "train/masks/27-256-1024.png": "9918cea89a4897507840914e2f20e18b55826c51baf9a7ea895d0647e4dbaee2",
    "train/masks/27-512-768.png": "ef8317e622e72d05895c24317efec2134a92f56fce45a9cfe8395f972fea676e",
    "train/masks/28-256-0.png": "4454c0e3019eabe2a55ec4477adce41826c17a56af811e5a0081a666b515125a",
    "train/masks/28-512-0.png": "28c7f9349886c8cceebd9e303b510242873818eff15011fb4922088a56bab7d5",
    "train/masks/29-256-0.png": "51a19c58ae3efc3746002272a2f25602537c4bb22a0e7a5d51583c2596855aef",
    "train/masks/29-256-1024.png": "7cc00f75d97872e60fe1e916cac99e5afbc3cda4dabaef56146bcdb768f30149",
    "train/masks/29-256-768.png": "d81b96e4ba077fb9669f189583fb857634ed4a5912e3f1361d3d083df53be08b",
    "train/masks/29-512-256.png": "2d8c3eb5783603a62ac2b8605f589b629b6130395d421d0dc6e0fc47c829977d",
    "train/masks/30-512-0.png": "95bff8f4c028100d2bd22052cb4f9ec30c3211cb996a178e3623fa6590ebb95d",
    "train/masks/30-512-512.png": "bc5ef425cde3905082a829c8350f5854bfe038b844019cf8bcdcdebf58c34079",
    "train/masks/31-0-256.png": "4fdcf157da46b0c4bbe4e332453fe519d4012ced3d9c53f94bcfdc41ffe75d05",
}


def load_tbm_grain_boundaries(split: str = "train", data_root: str | os.PathLike | None = None,
                              size: int | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The TBM grain-boundary micrographs (tint-etched optical images with hand-drawn boundaries).

    Args:
        split: ``"train"`` (64 crops) or ``"test"`` (16 crops), 256 x 256 each.
        data_root: a local copy with ``train/images``, ``train/masks``, ``test/...``; else download.
        size: resize to ``size x size``.

    Returns:
        Grey images float32 ``(N, H, W)`` in [0, 1], boundary masks int64 (1 = boundary,
        from mask values > 127), and the file stems.
    """
    check_choice(split, "split", tuple(TBM_REMOTE))
    files = {k: v for k, v in TBM_FILES.items() if k.startswith(split + "/")}

    def remote(rel: str) -> str:
        s, kind, name = rel.split("/")
        return f"{TBM_REMOTE[s]}/{kind}/{name}"

    root = fetch_files("tbm_grain_boundaries", TBM_URL, files, remote, data_root)
    return load_image_mask_folder(root / split, size=size, threshold=127)  # TBM masks: > 127 = boundary
